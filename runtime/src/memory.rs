//! The engine process's memory settings, shared by `hl7wasm serve` and the
//! benches that run the engine in their own process, so that both measure
//! the engine as it ships.

/// Opts this process out of transparent huge pages. The allocator asks for
/// them for its heap, where they only inflate the resident size: at 64
/// connections the engine peaked at 176 MB with them and 118 MB without, at
/// the same throughput (docs/BENCHMARKS.md), and the kernel zeroes each 2 MiB
/// page whole on its first touch. The kernel checks the flag at every page
/// fault, so memory reserved before is covered too.
///
/// # Errors
///
/// The OS error if the kernel refused.
#[cfg(target_os = "linux")]
pub fn opt_out_of_transparent_huge_pages() -> std::io::Result<()> {
    // SAFETY: PR_SET_THP_DISABLE takes no pointers; it sets a flag of this
    // process's memory map.
    if unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Transparent huge pages are a Linux setting: nothing to do elsewhere.
///
/// # Errors
///
/// None.
#[cfg(not(target_os = "linux"))]
pub fn opt_out_of_transparent_huge_pages() -> std::io::Result<()> {
    Ok(())
}
