/** What `until` polls: a value when the condition holds, else null, undefined or false. */
export type Probe<T> = () => T | null | undefined | false | Promise<T | null | undefined | false>;

/** Options of `until`. */
export interface UntilOptions {
  /** Give up after this many wall milliseconds (default 30,000: sized for a busy 2-core CI machine, where the only thing asserted is the condition, never a duration). */
  timeoutMs?: number;
  /** Wall milliseconds between probes (default 10). */
  intervalMs?: number;
  /** Appended to the timeout error (e.g. a child process's log), read when the wait fails. */
  detail?: () => string;
}

/**
 * Poll `probe` until it returns a value other than null, undefined or false, and return it.
 * A probe that throws counts as "not yet" (a server still starting), and its last error is
 * named when the wait gives up.
 *
 * @param what what is awaited, for the error ("the order's fill")
 * @throws Error `timed out after N ms waiting for <what>` with the last probe error and `detail()`
 */
export async function until<T>(what: string, probe: Probe<T>, options: UntilOptions = {}): Promise<T> {
  const { timeoutMs = 30_000, intervalMs = 10, detail } = options;
  const end = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== null && v !== undefined && v !== false) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > end) {
      const cause = lastError === undefined ? '' : `; last probe error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      const more = detail ? `\n${detail()}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}${more}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
