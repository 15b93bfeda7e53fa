// oneDNN 2.6 (Debian libdnnl-dev), v2 C API. Only the Kernels module imports this.
#include <oneapi/dnnl/dnnl.h>

// DNNL_MEMORY_ALLOCATE / DNNL_MEMORY_NONE are macros Swift cannot import.
static inline void *cdnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }
static inline void *cdnnl_memory_none(void) { return DNNL_MEMORY_NONE; }

// libgomp, which oneDNN runs its threads on: a primitive can be held to the calling thread.
int omp_get_max_threads(void);
void omp_set_num_threads(int);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
// What `#pragma omp parallel num_threads(n)` compiles to under GCC: runs fn(data) on a team of n.
void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
