#include <hdf5.h>

// HDF5's predefined type and property-list ids are macros that expand to
// `(H5open(), SOME_g)`; Swift cannot import them, so each gets a function here.
static inline hid_t chdf5_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_native_uchar(void) { return H5T_NATIVE_UCHAR; }
static inline hid_t chdf5_native_llong(void) { return H5T_NATIVE_LLONG; }
static inline hid_t chdf5_c_s1(void) { return H5T_C_S1; }
static inline hid_t chdf5_p_default(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_s_all(void) { return H5S_ALL; }
static inline unsigned chdf5_f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_f_acc_excl(void) { return H5F_ACC_EXCL; }
static inline size_t chdf5_t_variable(void) { return H5T_VARIABLE; }

// From HDF5 1.12 `H5Literate` is a macro for `H5Literate2` (and `H5L_iterate_t` for
// `H5L_iterate2_t`); this compiles against 1.10 and later alike.
static inline herr_t chdf5_literate(hid_t group, H5_index_t index, H5_iter_order_t order, hsize_t *next,
                                    H5L_iterate_t op, void *data) {
    return H5Literate(group, index, order, next, op, data);
}

// Turns off the library's automatic printing of its error stack, so that the
// thrown Swift errors are the only report a user sees.
static inline void chdf5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
