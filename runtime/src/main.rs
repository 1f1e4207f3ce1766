//! The `hl7wasm` command line.

mod cli;

// sled copies tree nodes on every write; mimalloc serves that churn with far
// less time in the allocator than glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
