// How the container image starts the CLI: its node flags (Dockerfile
// ENTRYPOINT) and the environment it sets for memory (Dockerfile ENV), so the
// benchmark and the memory tests measure what ships. test/unit/node-flags.test.ts
// keeps them in step with the Dockerfile; test/e2e/image.test.ts checks the built image.
export const CLI_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];

/**
 * glibc gives each thread that allocates its own malloc arena (up to 8 per
 * core), and each keeps the memory freed in it: two arenas for the main
 * thread, the snapshot worker and libuv's pool lowered the peak RSS of a
 * 1 GiB restore by 10-13 MiB, at no measured cost in time (one arena costs
 * seconds in lock contention).
 */
export const CLI_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
