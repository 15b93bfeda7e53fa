// Open MPI 4.1 (Debian libopenmpi-dev). Only the Distributed module imports this.
#include <mpi.h>

// MPI_COMM_WORLD, the datatypes and the reduction operations are macros over predefined
// globals (`&ompi_mpi_comm_world`...) that Swift cannot import.
static inline MPI_Comm cmpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype cmpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype cmpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype cmpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype cmpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op cmpi_sum(void) { return MPI_SUM; }
static inline MPI_Op cmpi_min(void) { return MPI_MIN; }
static inline MPI_Op cmpi_max(void) { return MPI_MAX; }
static inline int cmpi_success(void) { return MPI_SUCCESS; }
// Errors come back as return codes (checked by the caller) instead of aborting the job inside MPI.
static inline int cmpi_errors_return(MPI_Comm comm) { return MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN); }
static inline void *cmpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Status *cmpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
