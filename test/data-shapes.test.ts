import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { synthShapes } from '../node/dataset/synth-shapes.js';
import { readDataset } from '../node/dataset/read-dataset.js';
import { validateRows, modalityKeysForBuilder } from '../src/data/validate.js';
import { describeScene, renderScene, DEFAULT_HOLDOUT, sceneKey, shapeAt, COLOUR_NAMES, SHAPE_COLOURS, SHAPE_KINDS, type Scene, type ShapeSpec } from '../src/data/shapes.js';
import { patchTargets } from '../src/data/shapes-targets.js';
import { COLOUR_TONES_HZ, synthBeeps, AUDIO_SAMPLE_RATE } from '../src/data/shapes-audio.js';

interface Meta {
  id: string;
  split: string;
  question_type: string;
  answer: string;
  images?: { file: string; shapes: ShapeSpec[] }[];
  audio?: { file: string; colour?: keyof typeof SHAPE_COLOURS; count?: number };
  drill?: boolean;
}

let root = '';
let dirA = '';
test.before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'mt-data-shapes-'));
  dirA = path.join(root, 'a');
  await synthShapes({ out: dirA, n: 24, nTest: 12, seed: 5, audio: true });
});
test.after(() => rm(root, { recursive: true, force: true }));

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = path.join(prefix, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else out.push(rel);
  }
  return out.sort();
}

async function meta(dir: string): Promise<Meta[]> {
  return (await readFile(path.join(dir, 'meta.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Meta);
}

interface Row {
  id: string;
  messages: { content: string }[];
  images?: string[];
}

/** The rows of `split`.jsonl as written (no schema check, unlike `readDataset`). */
async function rows(dir: string, split: string): Promise<Row[]> {
  return (await readFile(path.join(dir, `${split}.jsonl`), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Row);
}

test('the same seed gives byte-identical files; another seed gives other pictures', async () => {
  const dirB = path.join(root, 'b');
  await synthShapes({ out: dirB, n: 24, nTest: 12, seed: 5, audio: true });
  const files = await listFiles(dirA);
  assert.deepEqual(await listFiles(dirB), files);
  assert.ok(files.filter((f) => f.endsWith('.png')).length >= 36);
  for (const f of files) assert.ok((await readFile(path.join(dirA, f))).equals(await readFile(path.join(dirB, f))), f);
  const dirC = path.join(root, 'c');
  await synthShapes({ out: dirC, n: 4, nTest: 2, seed: 6 });
  const png = 'images/shapes-train-000000-0.png';
  assert.ok(!(await readFile(path.join(dirA, png))).equals(await readFile(path.join(dirC, png))));
});

test('the pixel at each shape centre has the named colour, and held-out pictures are new', async () => {
  const m = await meta(dirA);
  const keys: Record<string, Set<string>> = { train: new Set(), test: new Set() };
  for (const entry of m) {
    for (const img of entry.images ?? []) {
      const png = PNG.sync.read(await readFile(path.join(dirA, img.file)));
      assert.equal(png.width, 64);
      for (const s of img.shapes) {
        const o: number = (Math.floor(s.cy) * png.width + Math.floor(s.cx)) * 4;
        assert.deepEqual([...png.data.subarray(o, o + 3)], [...SHAPE_COLOURS[s.colour]], `${img.file} ${s.colour} ${s.kind}`);
      }
      keys[entry.split].add(sceneKey({ size: 64, shapes: img.shapes }));
    }
  }
  for (const k of keys.test) assert.ok(!keys.train.has(k));
});

test('answers agree with the pictures for every question type; rows are schema-clean', async () => {
  const m = new Map((await meta(dirA)).map((e) => [e.id, e]));
  const train = await readDataset(dirA);
  const test = await readDataset(path.join(dirA, 'test.jsonl'));
  const rows = [...train.rows, ...test.rows];
  assert.equal(train.rows.length, 24);
  assert.equal(test.rows.length, 12);
  const { bad } = validateRows(rows, modalityKeysForBuilder('vision_clip'), { skipBadRows: true });
  assert.deepEqual(bad, []);
  const words = ['', 'One.', 'Two.', 'Three.', 'Four.'];
  const seen = new Set<string>();
  for (const row of rows) {
    assert.deepEqual(Object.keys(row), ['id', 'messages', 'images']);
    const e = m.get(row.id as string)!;
    const [q, a] = row.messages as { role: string; content: string }[];
    assert.equal(a.content, e.answer);
    for (const text of [q.content, a.content]) assert.doesNotMatch(text, /\ba [aeiou]/i, `${row.id}: "a" before a vowel`);
    assert.deepEqual(row.images, e.images!.map((i) => i.file));
    const shapes = e.images!.map((i) => i.shapes);
    seen.add(e.question_type);
    switch (e.question_type) {
      case 'colour':
        assert.equal(shapes[0].length, 1);
        assert.equal(e.answer.toLowerCase(), `${shapes[0][0].colour}.`);
        break;
      case 'shape':
        assert.equal(shapes[0].length, 1);
        assert.equal(e.answer, `A ${shapes[0][0].kind}.`);
        break;
      case 'count':
        assert.equal(e.answer, words[shapes[0].length]);
        break;
      case 'caption':
        assert.equal(e.answer, describeScene({ size: 64, shapes: shapes[0] }));
        break;
      case 'compare':
      case 'exists': {
        const [, colour, kind] = /(red|green|blue|yellow|purple|orange) (circle|square|triangle|star|diamond)/.exec(q.content)!;
        const has = shapes.map((list) => list.some((s) => s.colour === colour && s.kind === kind));
        if (e.question_type === 'exists') assert.equal(e.answer, has[0] ? 'Yes.' : 'No.');
        else assert.equal(e.answer, has[0] && !has[1] ? 'The first image.' : !has[0] && has[1] ? 'The second image.' : 'neither');
        break;
      }
      default:
        assert.fail(`unexpected question type ${e.question_type}`);
    }
  }
  assert.deepEqual([...seen].sort(), ['caption', 'colour', 'compare', 'count', 'exists', 'shape']);
});

test('--explain: exists and compare answers describe the pictures, then give the verdict; the pictures stay the same', async () => {
  const dirE = path.join(root, 'explain');
  await synthShapes({ out: dirE, n: 60, nTest: 12, seed: 5, mix: { compare: 1, exists: 1, caption: 1 }, explain: true });
  await synthShapes({ out: path.join(root, 'plain'), n: 60, nTest: 12, seed: 5, mix: { compare: 1, exists: 1, caption: 1 } });
  assert.equal(JSON.parse(await readFile(path.join(dirE, 'info.json'), 'utf8')).explain, true);
  const plain = new Map((await meta(path.join(root, 'plain'))).map((e) => [e.id, e]));
  const questions = new Map([...(await rows(dirE, 'train')), ...(await rows(dirE, 'test'))].map((r) => [r.id, r.messages[0].content]));
  const questionOf = (id: string) => questions.get(id) ?? '';
  const lower = (scene: ShapeSpec[]) => describeScene({ size: 64, shapes: scene }).replace(/^A/, 'a').replace(/^An/, 'an').slice(0, -1);
  const types = new Set<string>();
  for (const e of await meta(dirE)) {
    const p = plain.get(e.id)!;
    assert.deepEqual(e.images, p.images, `${e.id}: the same pictures with or without --explain`);
    const shapes = e.images!.map((i) => i.shapes);
    types.add(e.question_type);
    if (e.question_type === 'exists') {
      const target = /(?:there|contain) (an? \w+ \w+)/.exec(questionOf(e.id))![1];
      assert.equal(e.answer, `I see ${lower(shapes[0])}. ${target[0].toUpperCase()}${target.slice(1)}? ${p.answer}`);
    } else if (e.question_type === 'compare') {
      const target = /the (\w+ \w+)/.exec(questionOf(e.id))![1];
      assert.equal(e.answer, `The first shows ${lower(shapes[0])}, the second ${lower(shapes[1])}: the ${target} is in t${p.answer.slice(1)}`);
    } else {
      assert.equal(e.answer, p.answer, `${e.id}: other types answer as before`);
    }
  }
  assert.deepEqual([...types].sort(), ['caption', 'compare', 'exists']);
});

test('--kind_first and --check_each: answers name the kind first and check the shapes one at a time; questions and pictures stay', async () => {
  const dirK = path.join(root, 'kind-first');
  await synthShapes({ out: dirK, n: 60, nTest: 12, seed: 5, mix: { compare: 1, exists: 1, caption: 1 }, explain: true, kindFirst: true, checkEach: true, drills: 12, drillMix: { exists: 1 } });
  const info = JSON.parse(await readFile(path.join(dirK, 'info.json'), 'utf8'));
  assert.equal(info.kind_first, true);
  assert.equal(info.check_each, true);
  const plain = new Map((await meta(path.join(root, 'explain'))).map((e) => [e.id, e]));
  const plainRows = new Map([...(await rows(path.join(root, 'explain'), 'train')), ...(await rows(path.join(root, 'explain'), 'test'))].map((r) => [r.id, r.messages[0].content]));
  const kindFirstRows = [...(await rows(dirK, 'train')), ...(await rows(dirK, 'test'))];
  for (const r of kindFirstRows) if (plainRows.has(r.id)) assert.equal(r.messages[0].content, plainRows.get(r.id), `${r.id}: the question keeps its wording`);
  const questionOf = new Map(kindFirstRows.map((r) => [r.id, r.messages[0].content]));
  const phrase = (s: ShapeSpec) => `a ${s.kind} in ${s.colour}`;
  const types = new Set<string>();
  for (const e of await meta(dirK)) {
    if (e.drill) {
      const [q, a] = kindFirstRows.find((r) => r.id === e.id)!.messages.map((m) => m.content);
      assert.match(q, /a picture of a (circle|square|triangle|star|diamond) in \w+/, `${e.id}: the drill's picture is in kind-first words`);
      assert.match(a, /^A \w+ in \w+\? I see (a \w+ in \w+: (yes|no)(, |\. ))+(Yes|No)\.$/, e.id);
      continue;
    }
    const p = plain.get(e.id)!;
    assert.deepEqual(e.images, p.images, `${e.id}: the same pictures`);
    const shapes = e.images!.map((i) => [...i.shapes].sort((a, b) => a.cx - b.cx));
    types.add(e.question_type);
    const list = (ss: ShapeSpec[]) => (ss.length <= 2 ? ss.map(phrase).join(' and ') : `${ss.slice(0, -1).map(phrase).join(', ')} and ${phrase(ss[ss.length - 1])}`);
    if (e.question_type === 'caption') {
      assert.equal(e.answer, `A${list(shapes[0]).slice(1)}.`);
    } else if (e.question_type === 'exists') {
      const [, colour, kind] = /(?:there|contain) an? (\w+) (\w+)/.exec(questionOf.get(e.id)!)!;
      const verdicts = shapes[0].map((s) => `${phrase(s)}: ${s.colour === colour && s.kind === kind ? 'yes' : 'no'}`);
      const yes = shapes[0].some((s) => s.colour === colour && s.kind === kind);
      assert.equal(e.answer, `A ${kind} in ${colour}? I see ${verdicts.join(', ')}. ${yes ? 'Yes' : 'No'}.`);
      assert.equal(p.answer.endsWith(yes ? 'Yes.' : 'No.'), true, `${e.id}: the same verdict as without --check_each`);
    } else {
      const [, colour, kind] = /the (\w+) (\w+)/.exec(questionOf.get(e.id)!)!;
      assert.equal(e.answer, `The first shows ${list(shapes[0])}, the second ${list(shapes[1])}: the ${kind} in ${colour} is in the ${/(first|second) image\.$/.exec(p.answer)![1]} image.`);
    }
  }
  assert.deepEqual([...types].sort(), ['caption', 'compare', 'exists']);
  await assert.rejects(synthShapes({ out: path.join(root, 'each-plain'), n: 4, seed: 5, checkEach: true }), /--check_each needs --explain/);
});

test('--drills: text-only exists/compare rows with the pictures in words, after the picture rows; only with --explain', async () => {
  const dirD = path.join(root, 'drills');
  await synthShapes({ out: dirD, n: 20, nTest: 6, seed: 5, holdout: DEFAULT_HOLDOUT, explain: true, drills: 30 });
  const train = await rows(dirD, 'train');
  assert.equal(train.length, 50);
  const drills = train.slice(20);
  assert.ok(train.slice(0, 20).every((r) => r.images?.length));
  for (const r of drills) {
    assert.match(r.id, /^shapes-drill-\d{6}$/);
    assert.equal(r.images, undefined);
    const [q, a] = r.messages.map((m) => m.content);
    assert.doesNotMatch(q, /<image>/);
    assert.doesNotMatch(q + a, /green star|orange circle|purple diamond/, `${r.id} names a held-out pair`);
    const pictures = [...q.matchAll(/a picture of (.*?)(?= or a picture| a picture|\?|\n| contain|$)/g)].map((m) => m[1]);
    const target = /(?:the|there an?|contain an?) (\w+ (?:circle|square|triangle|star|diamond))/.exec(q)![1];
    if (/^I see/.test(a)) {
      assert.equal(pictures.length, 1, q);
      const yes = pictures[0].split(/, | and /).some((p) => p.replace(/^an? /, '') === target);
      assert.equal(a, `I see ${pictures[0]}. ${/^[aeiou]/.test(target) ? 'An' : 'A'} ${target}? ${yes ? 'Yes' : 'No'}.`);
    } else {
      assert.equal(pictures.length, 2, q);
      assert.equal(a, `The first shows ${pictures[0]}, the second ${pictures[1]}: the ${target} is in the ${pictures[0].replace(/^an? /, '') === target ? 'first' : 'second'} image.`);
    }
  }
  await assert.rejects(synthShapes({ out: path.join(root, 'drills-plain'), n: 4, seed: 5, drills: 2 }), /drills need --explain/);
  // A bad flag is refused before the folder is emptied: the dataset already there stays.
  await assert.rejects(synthShapes({ out: dirD, n: 4, seed: 5, drills: 2 }), /drills need --explain/);
  await assert.rejects(synthShapes({ out: dirD, n: 4, seed: 5, explain: true, drills: -1 }), /--drills must be a non-negative integer/);
  assert.equal((await rows(dirD, 'train')).length, 50);
});

test('--drill_mix and --drill_pairs all: caption drills, words that may name a held-out pair, pictures that never show one', async () => {
  const dirP = path.join(root, 'drills-all');
  // Caption-only drills need no --explain (there is no verdict to explain).
  await synthShapes({ out: dirP, n: 12, nTest: 6, seed: 5, holdout: DEFAULT_HOLDOUT, drills: 400, drillMix: { caption: 1 }, drillPairs: 'all' });
  const train = await rows(dirP, 'train');
  const drills = train.filter((r) => r.id.startsWith('shapes-drill-'));
  assert.equal(drills.length, 400);
  for (const r of drills) {
    const [q, a] = r.messages.map((m) => m.content);
    const described = /a picture of ([^?.\n]*)/.exec(q)?.[1];
    assert.ok(described, `${r.id}: the picture is given in words (${q})`);
    assert.equal(a, `${described[0].toUpperCase()}${described.slice(1)}.`, `${r.id}: a caption drill's answer is the description`);
  }
  assert.ok(drills.some((r) => /green star|orange circle|purple diamond/.test(r.messages[0].content)), 'with "all", some drill names a held-out pair');
  const heldOut = (s: { colour: string; kind: string }) => DEFAULT_HOLDOUT.pairs!.some((p) => p.colour === s.colour && p.kind === s.kind);
  const pictured = (await meta(dirP)).filter((e) => e.split === 'train' && e.images);
  assert.ok(pictured.length > 0 && pictured.every((e) => e.images!.every((im) => !im.shapes.some(heldOut))), 'no training picture shows a held-out pair');
  const info = JSON.parse(await readFile(path.join(dirP, 'info.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual([info.drills, info.drill_mix, info.drill_pairs], [400, { caption: 1 }, 'all']);
  await assert.rejects(synthShapes({ out: dirP, n: 4, seed: 5, explain: true, drills: 2, drillPairs: 'some' as 'all' }), /--drill_pairs must be "train" or "all"/);
  await assert.rejects(synthShapes({ out: dirP, n: 4, seed: 5, drills: 2, drillMix: { caption: 1, exists: 1 } }), /drills need --explain/);
  assert.equal((await rows(dirP, 'train')).length, train.length, 'a refused flag leaves the dataset there');
});

test('audio rows: beeps whose pitch and number match the answer, validated as <speech> rows', async () => {
  const audio = await readDataset(path.join(dirA, 'train_audio.jsonl'));
  assert.equal(audio.rows.length, 6);
  assert.deepEqual(validateRows(audio.rows, modalityKeysForBuilder('audio_whisper'), { skipBadRows: true }).bad, []);
  const m = new Map((await meta(dirA)).map((e) => [e.id, e]));
  for (const row of audio.rows.slice(0, 4)) {
    const e = m.get(row.id as string)!;
    const wav = await readFile(path.join(dirA, (row.speech_audios as string[])[0]));
    assert.equal(wav.toString('ascii', 0, 4), 'RIFF');
    assert.equal(wav.readUInt32LE(24), AUDIO_SAMPLE_RATE);
    const expected = synthBeeps(COLOUR_TONES_HZ[e.audio!.colour!], e.audio!.count!);
    assert.equal((wav.length - 44) / 2, expected.length);
    if (e.question_type === 'audio_count') assert.equal(e.answer, ['One.', 'Two.', 'Three.', 'Four.'][e.audio!.count! - 1]);
    else assert.equal(e.answer.toLowerCase(), `${e.audio!.colour}.`);
  }
  // The first beep's zero crossings give its pitch.
  const red = synthBeeps(COLOUR_TONES_HZ.red, 1);
  let crossings = 0;
  for (let i = 1; i < red.length; i++) if (red[i - 1] < 0 !== red[i] < 0 && red[i] !== 0) crossings++;
  assert.ok(Math.abs(crossings / 2 / 0.15 - COLOUR_TONES_HZ.red) < 10, `${crossings}`);
});

test('renderScene anti-aliases edges and leaves the background white', () => {
  const scene: Scene = { size: 32, shapes: [{ kind: 'circle', colour: 'blue', cx: 16, cy: 16, r: 7.5 }] };
  const img = renderScene(scene);
  const at = (x: number, y: number) => [...img.data.subarray((y * 32 + x) * 4, (y * 32 + x) * 4 + 4)];
  assert.deepEqual(at(16, 16), [...SHAPE_COLOURS.blue, 255]);
  assert.deepEqual(at(0, 0), [255, 255, 255, 255]);
  const edge = at(23, 16); // the circle's edge (x = 23.5) halves this pixel
  assert.ok(edge[0] > SHAPE_COLOURS.blue[0] && edge[0] < 255, `${edge}`);
});

test('shapeAt names the topmost shape under a point, and agrees with the rendered colours', () => {
  const scene: Scene = {
    size: 64,
    shapes: [
      { kind: 'square', colour: 'red', cx: 20, cy: 20, r: 10 },
      { kind: 'star', colour: 'green', cx: 44, cy: 44, r: 12 },
      { kind: 'circle', colour: 'blue', cx: 26, cy: 26, r: 5 }, // drawn over the square's corner
    ],
  };
  assert.equal(shapeAt(scene, 20, 20), 0);
  assert.equal(shapeAt(scene, 44, 44), 1);
  assert.equal(shapeAt(scene, 26, 26), 2, 'the later shape is on top');
  assert.equal(shapeAt(scene, 2, 60), -1);
  // Property: wherever a pixel is wholly one shape's colour, shapeAt at its centre names that shape.
  const img = renderScene(scene);
  let checked = 0;
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 64; x++) {
      const px = [...img.data.subarray((y * 64 + x) * 4, (y * 64 + x) * 4 + 3)];
      const i = scene.shapes.findIndex((s) => px.every((v, k) => v === SHAPE_COLOURS[s.colour][k]));
      if (i >= 0) {
        assert.equal(shapeAt(scene, x + 0.5, y + 0.5), i, `pixel ${x},${y}`);
        checked++;
      } else if (px.every((v) => v === 255)) {
        assert.equal(shapeAt(scene, x + 0.5, y + 0.5), -1, `pixel ${x},${y}`);
      }
    }
  }
  assert.ok(checked > 300, `${checked} shape pixels checked`);
});

test('patchTargets: each shape is anchored in the cell holding its centre, ranked from the left; owners agree with the pixels', () => {
  const scene: Scene = {
    size: 64,
    shapes: [
      { kind: 'star', colour: 'green', cx: 50, cy: 12, r: 7 },
      { kind: 'square', colour: 'red', cx: 14, cy: 44, r: 12 },
      { kind: 'diamond', colour: 'blue', cx: 36.5, cy: 50.9, r: 6 },
    ],
  };
  const t = patchTargets(scene, 8);
  assert.equal(t.count, 3);
  const cell = (x: number, y: number) => Math.floor(y / 8) * 8 + Math.floor(x / 8);
  assert.deepEqual([...t.anchor].map((a, c) => [a, c]).filter(([a]) => a >= 0), [[0, cell(50, 12)], [1, cell(14, 44)], [2, cell(36.5, 50.9)]]);
  assert.deepEqual([t.anchorRank[cell(14, 44)], t.anchorRank[cell(36.5, 50.9)], t.anchorRank[cell(50, 12)]], [0, 1, 2]);
  assert.equal(SHAPE_KINDS[t.anchorKind[cell(50, 12)]], 'star');
  assert.equal(COLOUR_NAMES[t.anchorColour[cell(36.5, 50.9)]], 'blue');
  assert.equal([...t.anchorKind].filter((k) => k >= 0).length, 3);
  // Property: a cell drawn all in one shape's colour is owned by that shape; an all-white cell by nobody; and
  // every shape owns at least one cell.
  const img = renderScene(scene);
  let shapeCells = 0;
  for (let c = 0; c < 64; c++) {
    const colours = new Set<string>();
    for (let y = Math.floor(c / 8) * 8; y < Math.floor(c / 8) * 8 + 8; y++) {
      for (let x = (c % 8) * 8; x < (c % 8) * 8 + 8; x++) colours.add(img.data.subarray((y * 64 + x) * 4, (y * 64 + x) * 4 + 3).join(','));
    }
    const only = colours.size === 1 ? [...colours][0] : null;
    const named = COLOUR_NAMES.find((n) => only === SHAPE_COLOURS[n].join(','));
    if (named) {
      assert.equal(COLOUR_NAMES[t.ownerColour[c]], named, `cell ${c}`);
      assert.equal(scene.shapes[t.owner[c]].colour, named, `cell ${c}`);
      shapeCells++;
    } else if (only === '255,255,255') {
      assert.deepEqual([t.owner[c], t.ownerKind[c], t.ownerColour[c], t.ownerRank[c]], [-1, -1, -1, -1], `cell ${c}`);
    }
  }
  for (let i = 0; i < 3; i++) assert.ok(t.owner.includes(i), `shape ${i} owns a cell`);
  assert.deepEqual([...new Set([...t.ownerRank].filter((r) => r >= 0))].sort(), [0, 1, 2]);
  assert.ok(shapeCells >= 1, `${shapeCells} one-colour cells checked`);
});
