// The few MPI C API pieces Chorus uses. Open MPI defines MPI_COMM_WORLD, the datatypes, operations and
// MPI_STATUS_IGNORE as macros over global structs, which Swift cannot import, so each is wrapped here
// in a static inline function. Only ChorusMPI imports this module.
#ifndef CHORUS_MPI_SHIM_H
#define CHORUS_MPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm chorus_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm chorus_mpi_comm_null(void) { return MPI_COMM_NULL; }
static inline MPI_Datatype chorus_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype chorus_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Op chorus_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Request chorus_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline int chorus_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int chorus_mpi_success(void) { return MPI_SUCCESS; }
static inline int chorus_mpi_undefined(void) { return MPI_UNDEFINED; }
static inline void *chorus_mpi_in_place(void) { return MPI_IN_PLACE; }

/// Errors come back as return codes (instead of aborting the job) so Chorus can report them.
static inline int chorus_mpi_errors_return(MPI_Comm comm) { return MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN); }

static inline int chorus_mpi_test(MPI_Request *request, int *flag) { return MPI_Test(request, flag, MPI_STATUS_IGNORE); }

/// `text` must hold chorus_mpi_max_error_string() bytes; returns the message length, or -1.
static inline int chorus_mpi_error_string(int code, char *text) {
    int length = 0;
    return MPI_Error_string(code, text, &length) == MPI_SUCCESS ? length : -1;
}
static inline int chorus_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }

#endif
