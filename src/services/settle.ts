/**
 * Waits for background work (mails, back-channel deliveries) that runs after its request has been answered,
 * at most `timeoutMs`: shutdown and tests must not hang on a slow receiver. Work added while waiting is
 * waited for too; nothing is cancelled.
 */
export async function settlePending(pending: ReadonlySet<Promise<unknown>>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pending.size && Date.now() < deadline) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadline - Date.now());
    });
    await Promise.race([Promise.allSettled([...pending]), timeout]).finally(() => clearTimeout(timer));
  }
}
