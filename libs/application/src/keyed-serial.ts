/**
 * Per-key FIFO execution: tasks of one key run one at a time, in the order `run` was called;
 * tasks of different keys run concurrently. A failing task fails only its own promise (the
 * next task of the key still runs). Keys whose queue drained are forgotten.
 */
export class KeyedSerial {
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Queue `task` behind the tasks already queued under `key` (it starts when they have settled).
   * Never call `run` with the same key from inside one of that key's tasks: it would wait for itself.
   * @returns the task's result or rejection
   */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Keys with queued or running tasks (diagnostics, tests). */
  get busy(): number {
    return this.tails.size;
  }
}
