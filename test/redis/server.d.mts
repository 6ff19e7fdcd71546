/** Starts `redis-server` on a free port; `stop()` resolves once it has exited. */
export function startRedis(): Promise<{ url: string; port: number; stop(): Promise<void> }>;
