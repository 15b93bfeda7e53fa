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
static inline unsigned chdf5_f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline size_t chdf5_t_variable(void) { return H5T_VARIABLE; }

// From HDF5 1.12 `H5Literate` is a macro for `H5Literate2` (and `H5L_iterate_t` for
// `H5L_iterate2_t`); this compiles against 1.10 and later alike.
//
// When a link message of a group fails to decode, libhdf5 1.10 frees the name pointers of every
// entry of the link table it was building, the entries not filled yet included: memory it never
// initialised, whose contents depend on the process's history. So that the probe's child (which
// lists each group the same way) meets what the reader will meet, malloc fills new blocks with
// zeros while libhdf5 lists (free(NULL) is harmless) and freed ones with 0xFF. `op` must not
// call this again (both callers only collect the names).
#include <malloc.h>
static inline herr_t chdf5_literate(hid_t group, H5_index_t index, H5_iter_order_t order, hsize_t *next,
                                    H5L_iterate_t op, void *data) {
    mallopt(M_PERTURB, 0xFF);
    herr_t status = H5Literate(group, index, order, next, op, data);
    mallopt(M_PERTURB, 0);
    return status;
}

// The kind of link `name` in `group` (hard, soft, external...), H5L_TYPE_ERROR when unreadable.
// From HDF5 1.12 `H5Lget_info` is a macro for `H5Lget_info2` with another struct.
static inline H5L_type_t chdf5_link_type(hid_t group, const char *name) {
#if H5_VERSION_GE(1, 12, 0)
    H5L_info2_t info;
    return H5Lget_info2(group, name, &info, H5P_DEFAULT) < 0 ? H5L_TYPE_ERROR : info.type;
#else
    H5L_info_t info;
    return H5Lget_info(group, name, &info, H5P_DEFAULT) < 0 ? H5L_TYPE_ERROR : info.type;
#endif
}

// Turns off the library's automatic printing of its error stack, so that the
// thrown Swift errors are the only report a user sees.
static inline void chdf5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

// ---------------------------------------------------------------------------------------------
// The probe (H5Probe in HDF5.swift): walks an untrusted file the way the readers will, in a child
// process, so that a file whose damaged group structures crash libhdf5 (it has no checks against
// some of them) kills the child rather than the command. Plain C: the child of a fork may only
// run code that takes no lock another thread of the parent could hold.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

// Objects seen, by address (1.10) or token (1.12+): an open-addressing set of 16-byte keys, so
// that each object is walked once however many links reach it (a group linking to itself).
typedef struct { unsigned char key[16]; } chdf5_probe_key;
typedef struct {
    const char *const *names;  // looked up in every group: the names the readers probe for
    int name_count;
    size_t max_vlen_elements;  // variable-length datasets with more elements are refused by the readers
    chdf5_probe_key *slots;
    size_t capacity, count;
    int depth;  // of groups in groups: a chain of a million would overflow the stack (the readers go 3 deep)
    char *where;  // the path of the object being read, kept up to date for the parent (shared memory)
    size_t where_size;
    long resident;  // KB at the start (peak resident memory past `resident` + `budget` / 2 stops the walk)
    size_t budget;
    int over_budget;
} chdf5_probe;

// Whether the walk's resident memory grew by more than half its budget, or an allocation failed
// (see chdf5_probe_child and chdf5_probe_on_error).
static inline int chdf5_probe_over_budget(chdf5_probe *p) {
    struct rusage usage;
    if (!p->over_budget && p->resident > 0 && getrusage(RUSAGE_SELF, &usage) == 0)
        p->over_budget = (size_t)(usage.ru_maxrss - p->resident) * 1024 > p->budget / 2;
    return p->over_budget;
}

static inline int chdf5_probe_object_key(hid_t object, chdf5_probe_key *key) {
    memset(key, 0, sizeof *key);
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t info;
    if (H5Oget_info3(object, &info, H5O_INFO_BASIC) < 0) return -1;
    memcpy(key->key, &info.token, sizeof info.token < 16 ? sizeof info.token : 16);
#else
    H5O_info_t info;
    if (H5Oget_info2(object, &info, H5O_INFO_BASIC) < 0) return -1;
    memcpy(key->key, &info.addr, sizeof info.addr);
#endif
    return 0;
}

// 1 when `key` was already in the set, 0 when added, -1 when out of memory.
static inline int chdf5_probe_insert(chdf5_probe *p, const chdf5_probe_key *key) {
    static const chdf5_probe_key empty;
    if (2 * (p->count + 1) > p->capacity) {
        size_t capacity = p->capacity ? 2 * p->capacity : 1024;
        chdf5_probe_key *slots = calloc(capacity, sizeof *slots);
        if (!slots) return -1;
        for (size_t i = 0; i < p->capacity; i++) {
            if (memcmp(&p->slots[i], &empty, sizeof empty) == 0) continue;
            size_t h = 0; memcpy(&h, p->slots[i].key, sizeof h);
            for (size_t j = (h * 0x9E3779B97F4A7C15ull) & (capacity - 1);; j = (j + 1) & (capacity - 1))
                if (memcmp(&slots[j], &empty, sizeof empty) == 0) { slots[j] = p->slots[i]; break; }
        }
        free(p->slots); p->slots = slots; p->capacity = capacity;
    }
    // Address 0 is the superblock, never an object: an all-zero key stands for an empty slot.
    if (memcmp(key, &empty, sizeof empty) == 0) return 1;
    size_t h = 0; memcpy(&h, key->key, sizeof h);
    for (size_t j = (h * 0x9E3779B97F4A7C15ull) & (p->capacity - 1);; j = (j + 1) & (p->capacity - 1)) {
        if (memcmp(&p->slots[j], key, sizeof *key) == 0) return 1;
        if (memcmp(&p->slots[j], &empty, sizeof empty) == 0) { p->slots[j] = *key; p->count++; return 0; }
    }
}

// What the readers ask of a dataset: its dataspace, type, layout and storage, and the
// variable-length data libhdf5 reads for them (all but contiguous data with an address).
static inline void chdf5_probe_dataset(chdf5_probe *p, hid_t set) {
    hid_t space = H5Dget_space(set), type = H5Dget_type(set), plist = H5Dget_create_plist(set);
    hsize_t dims[H5S_MAX_RANK];
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (rank >= 0 && rank <= H5S_MAX_RANK) H5Sget_simple_extent_dims(space, dims, NULL);
    H5T_class_t class = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    size_t size = type >= 0 ? H5Tget_size(type) : 0;
    int variable = class == H5T_STRING && H5Tis_variable_str(type) > 0;
    (void)size; (void)H5Dget_storage_size(set);
    H5D_layout_t layout = plist >= 0 ? H5Pget_layout(plist) : H5D_LAYOUT_ERROR;
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    // The readers check contiguous data with an address themselves; the rest libhdf5 reads for them.
    int read_by_libhdf5 = layout != H5D_CONTIGUOUS || H5Dget_offset(set) == HADDR_UNDEF;
    if ((variable || class == H5T_VLEN) && read_by_libhdf5 && n > 0 && (size_t)n <= p->max_vlen_elements) {
        hid_t memory = -1;
        if (variable) {
            memory = H5Tcopy(H5T_C_S1);
            if (memory >= 0 && (H5Tset_size(memory, H5T_VARIABLE) < 0 || H5Tset_cset(memory, H5Tget_cset(type)) < 0)) { H5Tclose(memory); memory = -1; }
        } else {
            hid_t base = H5Tget_super(type);
            if (base >= 0 && H5Tget_class(base) == H5T_INTEGER && H5Tget_size(base) == 1) memory = H5Tvlen_create(H5T_NATIVE_UCHAR);
            if (base >= 0) H5Tclose(base);
        }
        void *buffer = memory >= 0 ? calloc((size_t)n, 16) : NULL;
        if (buffer && H5Dread(set, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer) >= 0)
            H5Dvlen_reclaim(memory, space, H5P_DEFAULT, buffer);
        free(buffer);
        if (memory >= 0) H5Tclose(memory);
    }
    if (plist >= 0) H5Pclose(plist);
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
}

static inline void chdf5_probe_group(chdf5_probe *p, hid_t group);

// The names of a group's links, collected as the readers collect them (`H5Group.childNames`).
typedef struct { char **names; size_t count, capacity; } chdf5_probe_names;

static inline herr_t chdf5_probe_collect(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    chdf5_probe_names *list = data;
    (void)group; (void)info;
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? 2 * list->capacity : 64;
        char **names = realloc(list->names, capacity * sizeof *names);
        if (!names) return -1;
        list->names = names; list->capacity = capacity;
    }
    if (!(list->names[list->count] = strdup(name))) return -1;
    list->count++;
    return 0;
}

// One member opened by name as the readers open it (`H5Group.member`), walked once however many
// links reach it.
static inline herr_t chdf5_probe_member(chdf5_probe *p, hid_t group, const char *name) {
    if (H5Lexists(group, name, H5P_DEFAULT) <= 0) return 0;
    H5L_type_t link = chdf5_link_type(group, name);
    if (link != H5L_TYPE_HARD && link != H5L_TYPE_SOFT) return 0;  // the readers refuse the others
    hid_t object = H5Oopen(group, name, H5P_DEFAULT);
    if (object < 0) return 0;
    chdf5_probe_key key;
    int seen = chdf5_probe_object_key(object, &key) < 0 ? 1 : chdf5_probe_insert(p, &key);
    if (seen == 0) {
        H5I_type_t kind = H5Iget_type(object);
        if (kind == H5I_GROUP && p->depth < 64) { p->depth++; chdf5_probe_group(p, object); p->depth--; }
        else if (kind == H5I_DATASET) chdf5_probe_dataset(p, object);
    }
    H5Oclose(object);
    return seen < 0 ? -1 : 0;
}

// A member of `group` walked, with its path kept in `where`.
static inline herr_t chdf5_probe_named(chdf5_probe *p, hid_t group, const char *name) {
    if (chdf5_probe_over_budget(p)) return -1;
    size_t length = strlen(p->where);
    snprintf(p->where + length, p->where_size - length, "%s%s", length > 1 ? "/" : "", name);
    herr_t status = chdf5_probe_member(p, group, name);
    p->where[length] = 0;
    return status;
}

// A group's members walked: those of the names the readers look up (a lookup can find what a
// damaged listing does not), then those its links list, each opened by name as the readers do.
static inline void chdf5_probe_group(chdf5_probe *p, hid_t group) {
    for (int i = 0; i < p->name_count; i++) {
        if (chdf5_probe_named(p, group, p->names[i]) < 0) return;
    }
    chdf5_probe_names list = { NULL, 0, 0 };
    hsize_t next = 0;
    (void)chdf5_literate(group, H5_INDEX_NAME, H5_ITER_INC, &next, chdf5_probe_collect, &list);
    for (size_t i = 0; i < list.count; i++) {
        if (chdf5_probe_named(p, group, list.names[i]) < 0) break;
    }
    for (size_t i = 0; i < list.count; i++) free(list.names[i]);
    free(list.names);
}

// Walks every group and dataset reachable from the root of `path`, keeping the path of the object
// it reads in `where` (`where_size` bytes). Returns 0 when the walk ended (whatever libhdf5 said
// about the file: the readers report that), 1 when it took more memory than `budget` allows.
// libhdf5's error stack entries (H5Ewalk2): a failed allocation (malloc refused under the walk's
// address-space bound) sets *data. Its major code is the layer's (the metadata cache's for a
// local heap claiming 20 GB); the minor says what failed.
static inline herr_t chdf5_probe_error_entry(unsigned n, const H5E_error2_t *entry, void *data) {
    (void)n;
    if (entry->min_num == H5E_NOSPACE || entry->min_num == H5E_CANTALLOC) *(int *)data = 1;
    return 0;
}

// Instead of printing, an API call that failed inside the walk reports whether an allocation
// failed: libhdf5 turns that into an ordinary error, which the parent, repeating the call without
// a bound, would instead survive by allocating it (a root group's local heap that claimed 20 GB got it).
static inline herr_t chdf5_probe_on_error(hid_t stack, void *data) {
    H5Ewalk2(stack, H5E_WALK_DOWNWARD, chdf5_probe_error_entry, data);
    return 0;
}

static inline int chdf5_probe_file(const char *path, const char *const *names, int name_count, size_t max_vlen_elements,
                                   char *where, size_t where_size, size_t budget) {
    struct rusage usage;
    long resident = getrusage(RUSAGE_SELF, &usage) == 0 ? usage.ru_maxrss : -1;
    chdf5_probe p = { names, name_count, max_vlen_elements, NULL, 0, 0, 0, where, where_size, resident, budget, 0 };
    H5Eset_auto2(H5E_DEFAULT, chdf5_probe_on_error, &p.over_budget);
    snprintf(where, where_size, "/");
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return 0;
    hid_t root = H5Gopen2(file, "/", H5P_DEFAULT);
    chdf5_probe_key key;
    if (root >= 0 && chdf5_probe_object_key(root, &key) == 0 && chdf5_probe_insert(&p, &key) == 0) chdf5_probe_group(&p, root);
    if (root >= 0) H5Gclose(root);
    H5Fclose(file);
    int out_of_memory = (p.capacity > 0 && p.slots == NULL) || chdf5_probe_over_budget(&p);
    free(p.slots);
    return out_of_memory;
}

// The size of this process's address space in bytes (/proc/self/statm), -1 when unknown.
static inline long chdf5_probe_address_space(void) {
    char text[64] = {0};
    int descriptor = open("/proc/self/statm", O_RDONLY);
    if (descriptor < 0) return -1;
    ssize_t n = read(descriptor, text, sizeof text - 1);
    close(descriptor);
    long pages = -1;
    return n > 0 && sscanf(text, "%ld", &pages) == 1 ? pages * sysconf(_SC_PAGESIZE) : -1;
}

// The child's whole life after fork(): a death by signal is the report (the default action, not
// the parent's crash handlers; no core file; libc's and libhdf5's words on stderr go nowhere, the
// parent writes the one line). Exits 0 when the walk ended, 1 when it took more than half of
// `budget` bytes: a damaged local heap whose free list loops makes libhdf5 allocate without end
// (23 GB before the kernel killed it), so the address space is bounded too, and such a walk is
// reported rather than repeated by the parent, which has no bound.
__attribute__((noreturn)) static inline void chdf5_probe_child(const char *path, const char *const *names, int name_count, size_t max_vlen_elements,
                                                                 char *where, size_t where_size, size_t budget) {
    const int fatal[] = {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE, SIGTRAP, SIGSYS};
    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++) signal(fatal[i], SIG_DFL);
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    int quiet = open("/dev/null", O_WRONLY);
    if (quiet >= 0) { dup2(quiet, 2); close(quiet); }
    setenv("LIBC_FATAL_STDERR_", "1", 1);  // glibc's "free(): invalid pointer" goes to stderr, not the terminal
    long size = chdf5_probe_address_space();
    if (size > 0) {
        struct rlimit bound = {(rlim_t)size + budget, (rlim_t)size + budget};
        setrlimit(RLIMIT_AS, &bound);
    }
    _exit(chdf5_probe_file(path, names, name_count, max_vlen_elements, where, where_size, budget));
}
