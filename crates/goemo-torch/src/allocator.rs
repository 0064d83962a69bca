//! The process's C allocator, tuned for libtorch's CPU work (csrc/allocator.cpp).

use std::ffi::c_int;

extern "C" {
    fn goemo_keep_freed_memory(mmap_threshold: usize, trim_threshold: usize) -> c_int;
}

/// glibc's largest mmap threshold: blocks up to this size come from the heap.
const MMAP_THRESHOLD: usize = 32 << 20;
/// Free memory the heap keeps before returning any to the kernel.
const TRIM_THRESHOLD: usize = 1 << 30;

/// Makes glibc keep freed memory for reuse instead of returning it to the kernel: blocks up to
/// 32 MiB come from the heap, and the heap keeps up to 1 GiB free. libtorch allocates each
/// activation anew; with glibc's defaults every large one is a fresh mapping whose pages fault
/// in zeroed. Costs resident memory: freed blocks stay with the process.
///
/// Process-wide, so binaries call it, not libraries. Returns whether it took effect (false with
/// another C library than glibc).
pub fn keep_freed_memory() -> bool {
    // SAFETY: mallopt changes two allocator parameters; valid at any time, from any thread.
    unsafe { goemo_keep_freed_memory(MMAP_THRESHOLD, TRIM_THRESHOLD) == 1 }
}

#[cfg(test)]
mod tests {
    #[test]
    fn glibc_takes_the_settings() {
        // This crate's targets (Linux with glibc) all take them.
        assert_eq!(super::keep_freed_memory(), cfg!(target_env = "gnu"));
    }
}
