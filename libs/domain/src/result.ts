/**
 * A decision's outcome: either a value or a typed rejection. Business rejections are
 * values, never exceptions (docs/architecture.md "Shape": the pure core).
 */
export type Result<T, E> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const err = <E>(error: E): Result<never, E> => ({ ok: false, error });

/** A typed rejection: a machine-readable code and a sentence for people. */
export interface Rejection<C extends string = string> {
  code: C;
  message: string;
}

export const reject = <C extends string>(code: C, message: string): Result<never, Rejection<C>> => err({ code, message });

/** Exhaustiveness guard for switches over unions. */
export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}
