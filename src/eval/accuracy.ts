/**
 * Exact-match accuracy per question type: the model's answer and the reference agree after lower-casing,
 * collapsing whitespace and dropping trailing punctuation ("A red circle." = "a red circle").
 */
import { maxOf } from '../util/arrays.js';
export function normaliseAnswer(s: string): string {
  return s.toLowerCase().replace(/\s+/g, ' ').trim().replace(/[.!?]+$/, '').trim();
}

export interface EvalItem {
  id: string;
  type: string;
  expected: string;
  got: string;
}

export interface EvalRow {
  type: string;
  n: number;
  correct: number;
  accuracy: number;
}

export function accuracyByType(items: EvalItem[]): { rows: EvalRow[]; overall: EvalRow } {
  const by = new Map<string, { n: number; correct: number }>();
  for (const it of items) {
    const s = by.get(it.type) ?? { n: 0, correct: 0 };
    s.n++;
    if (normaliseAnswer(it.got) === normaliseAnswer(it.expected)) s.correct++;
    by.set(it.type, s);
  }
  const rows = [...by].sort(([a], [b]) => a.localeCompare(b)).map(([type, s]) => ({ type, ...s, accuracy: s.correct / s.n }));
  const n = items.length;
  const correct = rows.reduce((a, r) => a + r.correct, 0);
  return { rows, overall: { type: 'all', n, correct, accuracy: n ? correct / n : 0 } };
}

/** A plain-text table for the terminal. */
export function formatAccuracyTable(r: { rows: EvalRow[]; overall: EvalRow }): string {
  const lines = [['question type', 'n', 'correct', 'accuracy']];
  for (const x of [...r.rows, r.overall]) lines.push([x.type, String(x.n), String(x.correct), `${(100 * x.accuracy).toFixed(1)}%`]);
  const w = lines[0].map((_, i) => maxOf(lines.map((l) => l[i].length)));
  return lines.map((l, j) => (j === lines.length - 1 ? '\n' : '') + l.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ')).join('\n');
}
