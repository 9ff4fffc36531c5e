//! The `elbo-lab` command line (native only; the wasm32 build has an empty main).

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    elbo_lab::cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
