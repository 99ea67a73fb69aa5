/**
 * The spin budget (src/eal/spin-budget.ts): how long a waiter polls before it sleeps,
 * learned from the gaps between its bursts of work. Pure arithmetic, no processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_HOLD_MS, MIN_HOLD_MS, SpinBudget } from '../src/eal/spin-budget.js';

test('no gap seen: the minimum; short gaps: 1.5 times their average, within the bounds', () => {
  const b = new SpinBudget();
  assert.equal(b.holdMs, MIN_HOLD_MS);
  b.gap(2);
  assert.equal(b.holdMs, 3, 'one gap of 2 ms: poll 3 ms');
  b.gap(2);
  assert.equal(b.holdMs, 3);
  b.gap(4); // average 0.75 * 2 + 0.25 * 4 = 2.5
  assert.equal(b.holdMs, 3.75);
  b.gap(0.01);
  assert.ok(b.holdMs >= MIN_HOLD_MS && b.holdMs < 3.75, `shrinks with shorter gaps: ${b.holdMs}`);
  const tiny = new SpinBudget();
  tiny.gap(0.001);
  assert.equal(tiny.holdMs, MIN_HOLD_MS, 'never below the minimum');
  const big = new SpinBudget();
  big.gap(MAX_HOLD_MS * 0.9);
  assert.equal(big.holdMs, MAX_HOLD_MS, 'never above the maximum');
});

test('one gap longer than the maximum puts the waiter to sleep at once; short gaps bring the polling back', () => {
  const b = new SpinBudget();
  for (let i = 0; i < 10; i++) b.gap(2);
  assert.equal(b.holdMs, 3);
  b.gap(MAX_HOLD_MS + 1);
  assert.equal(b.holdMs, MIN_HOLD_MS, 'a silence: back to the minimum');
  b.gap(Infinity);
  assert.equal(b.holdMs, 0, 'a wait that ran out with nothing: the next one sleeps at once (an idle waiter woken by its timeout polls nothing)');
  b.gap(MAX_HOLD_MS + 1);
  assert.equal(b.holdMs, MIN_HOLD_MS, 'work after the silence: the minimum again, for its reply');
  b.gap(Infinity);
  b.gap(1);
  assert.equal(b.holdMs, 1.5, 'the first short gap after it sets the average anew');
});
