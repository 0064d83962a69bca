// glibc's malloc returns each freed block over its mmap threshold (dynamic, 128 KiB to 32 MiB) to
// the kernel, and the next allocation of that size faults in fresh zeroed pages. libtorch
// allocates every activation anew, so CPU inference faults in pages for every large activation.
// With the threshold at its maximum and the heap never trimmed below 1 GiB, freed activations
// are reused from the heap instead.
#include <cstddef>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

extern "C" {

// 1 when both settings took effect, 0 when not (another C library, or glibc refused).
int goemo_keep_freed_memory(size_t mmap_threshold, size_t trim_threshold) {
#if defined(__GLIBC__)
  return mallopt(M_MMAP_THRESHOLD, static_cast<int>(mmap_threshold)) == 1 &&
         mallopt(M_TRIM_THRESHOLD, static_cast<int>(trim_threshold)) == 1;
#else
  (void)mmap_threshold;
  (void)trim_threshold;
  return 0;
#endif
}
}
