/**
 * The README's command lines stay true to the CLI: every `npx multi-token …` line in its bash blocks names a real
 * (sub)command and only flags that command accepts, and every flag the prose names is one some command takes.
 * Running each example is left to the tests that own it (demo-model, seed-readme, the train and serve tests):
 * this catches a renamed or removed flag in seconds, before a reader does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { Command } from 'commander';

const readme = await readFile('README.md', 'utf8');

/** The CLI as `node/cli.ts` assembles it: every `register…` function of every file in node/commands/. */
async function buildCli(): Promise<Command> {
  const program = new Command('multi-token');
  let registered = 0;
  for (const file of (await readdir('node/commands')).filter((f) => f.endsWith('.ts')).sort()) {
    const mod = (await import(`../node/commands/${file}`)) as Record<string, unknown>;
    for (const [name, fn] of Object.entries(mod)) {
      if (/^register[A-Z]/.test(name) && typeof fn === 'function') {
        (fn as (p: Command) => void)(program);
        registered++;
      }
    }
  }
  assert.ok(registered >= 9, `found ${registered} register functions in node/commands/`);
  return program;
}

/** Each `npx multi-token …` command in a ```bash block, continuation lines joined and comments dropped. */
function readmeCommands(): string[][] {
  const commands: string[][] = [];
  for (const [, block] of readme.matchAll(/```bash\n([\s\S]*?)```/g)) {
    for (const line of block!.replace(/\\\n\s*/g, ' ').split('\n')) {
      const code = line.replace(/\s#\s.*$/, '').trim();
      if (!code.startsWith('npx multi-token ')) continue;
      // Quoted arguments (JSON options) are one word and never flags.
      commands.push(code.slice('npx multi-token '.length).match(/'[^']*'|"[^"]*"|\S+/g) ?? []);
    }
  }
  return commands;
}

/** The data keys of the README's modality table (`images`, `speech_audios`, …): `generate` takes them as flags. */
const dataKeys = new Set([...readme.matchAll(/\| `<[a-z]+>`, `([a-z_]+)` \|/g)].map((m) => `--${m[1]}`));

function flagsOf(cmd: Command): Set<string> {
  const names = new Set<string>(['--help']);
  for (const o of cmd.options) if (o.long) names.add(o.long);
  return names;
}

test('every `npx multi-token` line in the README names a real command and only flags it accepts', async () => {
  const program = await buildCli();
  const commands = readmeCommands();
  assert.ok(commands.length >= 12, `found ${commands.length} commands`);
  assert.ok(dataKeys.has('--images') && dataKeys.has('--speech_audios'), `data keys from the modality table: ${[...dataKeys]}`);
  for (const words of commands) {
    const shown = `npx multi-token ${words.join(' ')}`;
    let cmd = program;
    let i = 0;
    for (; i < words.length; i++) {
      const sub = cmd.commands.find((c) => c.name() === words[i]);
      if (!sub) break;
      cmd = sub;
    }
    assert.notEqual(cmd, program, `${shown}: no such command`);
    const known = flagsOf(cmd);
    // Commands that take items by data key (`generate --images a.png`) accept those as flags.
    if ((cmd as unknown as { _allowUnknownOption: boolean })._allowUnknownOption) for (const k of dataKeys) known.add(k);
    for (const w of words.slice(i)) {
      if (!w.startsWith('--')) continue;
      const flag = w.split('=')[0]!;
      assert.ok(known.has(flag), `${shown}: "${cmd.name()}" takes no ${flag}`);
    }
  }
});

test('every flag the README names in its prose is taken by some command', async () => {
  const program = await buildCli();
  const all = new Set<string>();
  const walk = (c: Command) => {
    for (const f of flagsOf(c)) all.add(f);
    c.commands.forEach(walk);
  };
  walk(program);
  const npmFlags = new Set(['--ignore-scripts']); // npm's own, in the tfjs-node install note
  const named = new Set([...readme.matchAll(/`(--[A-Za-z0-9_-]+)/g)].map((m) => m[1]!).filter((f) => !npmFlags.has(f)));
  assert.ok(named.size >= 40, `found ${named.size} flags`);
  const unknown = [...named].filter((f) => !all.has(f));
  assert.deepEqual(unknown, [], `flags the README names that no command takes: ${unknown.join(', ')}`);
});
