/** Applies cloudflare/workers-sdk#15106 to the installed @cloudflare/vitest-pool-workers, if it has the bug. */
export function patchVitestPoolWorkers(): void;
