/**
 * Test support: run independent steps that each spawn a process a few at a time, not one
 * after another (the machine has 2 cores; a Node start-up is most of such a step's time).
 * Each step keeps its own assertions; the first failure rejects, naming its step.
 */

/** Run `fn` over `items`, at most `n` at a time. */
export async function each<T>(items: readonly T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: n }, async () => {
    for (let x = queue.shift(); x !== undefined; x = queue.shift()) await fn(x);
  }));
}
