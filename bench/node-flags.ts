// The node flags the container image starts the CLI with (Dockerfile
// ENTRYPOINT), so the benchmark measures what ships. test/unit/node-flags.test.ts
// keeps the two in step; test/e2e/image.test.ts checks the built image.
export const CLI_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
