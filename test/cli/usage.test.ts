// The command line itself: help for every command, exit codes, usage errors, one-line failures,
// colour rules, where the storage comes from, and the built bin.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pluginIdFromName } from '../../src/index.js';
import { tempDir } from '../helpers/temp-dir.js';
import { BUILT_ENTRY, ESCAPE, lines, runCli, seed } from './cli.js';

const COMMANDS = [
  'list',
  'get',
  'set',
  'delete',
  'history',
  'restore',
  'export',
  'import',
  'backup',
  'restore-backup',
  'verify',
  'stats',
  'ui',
];
const theme = pluginIdFromName('com.acme.theme');

describe('the plugin-state command line', () => {
  it('--help lists every command, the id and storage rules and the exit codes', async () => {
    const result = await runCli(['--help']);
    assert.equal(result.code, 0, result.stderr);
    for (const command of COMMANDS) assert.match(result.stdout, new RegExp(`^  ${command} `, 'm'));
    assert.match(result.stdout, /pluginIdFromName/);
    assert.match(result.stdout, /PLUGIN_STATE_URL/);
    assert.match(result.stdout, /file:\.\/\.plugin-state/);
    assert.match(result.stdout, /Exit codes: 0 ok, 1 failure or problems found .*\n\s+2 usage error/);
    const version = await runCli(['--version']);
    assert.equal(version.code, 0);
    assert.equal(version.stdout.trim(), JSON.parse(readFileSync('package.json', 'utf8')).version);
  });

  it('every command has --help with an example and the exit codes', async () => {
    const results = await Promise.all(COMMANDS.map((command) => runCli([command, '--help'])));
    results.forEach((result, i) => {
      const command = COMMANDS[i]!;
      assert.equal(result.code, 0, `${command}: ${result.stderr}`);
      assert.match(result.stdout, new RegExp(`^Usage: plugin-state ${command} `), command);
      assert.match(
        result.stdout,
        new RegExp(`Examples:\\n(  \\$ .*\\n)*  \\$ plugin-state ${command}`),
        command,
      );
      assert.match(result.stdout, /Exit codes: 0 ok, 1 failure or problems found, 2 usage error\./, command);
      assert.match(result.stdout, /--storage <url>/, command);
    });
    const get = results[COMMANDS.indexOf('get')]!;
    assert.match(get.stdout, /plugin name .*pluginIdFromName/s);
  });

  it('usage errors exit 2: the error line and one line pointing to --help, nothing on stdout', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /^Usage: plugin-state/],
      [['frobnicate'], /^error: unknown command 'frobnicate'\nRun 'plugin-state --help'/],
      [['get'], /^error: missing required argument 'id'\nRun 'plugin-state get --help' for usage\.\n$/],
      [
        ['list', '--colour'],
        /^error: unknown option '--colour'\nRun 'plugin-state list --help' for usage\.\n$/,
      ],
      [
        ['set', theme, '--if-revision', 'two'],
        /^error: option '--if-revision <n>' argument 'two' is invalid\. expected a whole number >= 0\.\n/,
      ],
      [
        ['restore', theme, '0'],
        /^error: command-argument value '0' is invalid for argument 'revision'\. expected a whole number >= 1\.\n/,
      ],
      [['history', theme, 'extra'], /^error: too many arguments for 'history'/],
      [['ui', '--port', '70000'], /expected a whole number from 0 to 65535/],
      [
        ['list', '--storage', 'redis://x'],
        /^error: openStorage: cannot use the storage URL "redis:\/\/x": the scheme "redis:" is not supported\. Use .* \(from --storage\)\nRun 'plugin-state --help' for usage\.\n$/,
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args)));
    results.forEach((result, i) => {
      const [args, expected] = cases[i]!;
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stdout, '', args.join(' '));
      assert.match(result.stderr, expected, args.join(' '));
      if (args.length > 0)
        assert.equal(lines(result.stderr).length, 2, `${args.join(' ')}: ${result.stderr}`);
    });
  });

  it('a failure is one line without a stack; --debug adds the stack', async (t) => {
    const url = `file:${join(tempDir(t), 'states')}`;
    await seed(url, [{ pluginId: theme, data: 1 }]);
    const plain = await runCli(['set', theme, '--if-revision', '5', '--storage', url], { input: '2' });
    assert.equal(plain.code, 1);
    assert.equal(lines(plain.stderr).length, 1);
    assert.doesNotMatch(plain.stderr, /\n\s+at /);
    const debug = await runCli(['set', theme, '--if-revision', '5', '--debug', '--storage', url], {
      input: '2',
    });
    assert.equal(debug.code, 1);
    assert.equal(lines(debug.stderr)[0], lines(plain.stderr)[0]);
    assert.match(debug.stderr, /ConflictError: saveState: .*\n\s+at /);
    const unreadable = await runCli(['list', '--storage', 'sqlite:/proc/version']);
    assert.equal(unreadable.code, 1, unreadable.stderr);
    assert.equal(lines(unreadable.stderr).length, 1, unreadable.stderr);
  });

  it('no escape codes when stdout is not a terminal or NO_COLOR is set; FORCE_COLOR turns them on', async (t) => {
    const url = `file:${join(tempDir(t), 'states')}`;
    await seed(url, [{ pluginId: theme, data: { a: 1 } }]);
    for (const args of [['list'], ['get', theme], ['history', theme], ['stats'], ['verify']]) {
      const piped = await runCli([...args, '--storage', url]);
      assert.equal(piped.code, 0, piped.stderr);
      assert.doesNotMatch(piped.stdout + piped.stderr, ESCAPE, args[0]);
    }
    const forced = await runCli(['list', '--storage', url], { env: { FORCE_COLOR: '1' } });
    assert.match(forced.stdout, ESCAPE);
    const noColor = await runCli(['list', '--storage', url], { env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
    assert.doesNotMatch(noColor.stdout, ESCAPE);
    const json = await runCli(['list', '--json', '--storage', url], { env: { FORCE_COLOR: '1' } });
    assert.doesNotMatch(json.stdout, ESCAPE, '--json is never coloured');
  });

  it('the storage: --storage, else PLUGIN_STATE_URL, else file:./.plugin-state in the working directory', async (t) => {
    const dir = tempDir(t);
    await seed(`file:${join(dir, '.plugin-state')}`, [{ pluginId: theme, data: 'default' }]);
    const other = join(dir, 'other');
    mkdirSync(other);
    await seed(`sqlite:${join(other, 'states.db')}`, [{ pluginId: theme, data: 'from the environment' }]);

    const byDefault = await runCli(['get', theme, '--data'], { cwd: dir });
    assert.equal(byDefault.code, 0, byDefault.stderr);
    assert.equal(JSON.parse(byDefault.stdout), 'default');
    const fromEnv = await runCli(['get', theme, '--data'], {
      cwd: dir,
      env: { PLUGIN_STATE_URL: `sqlite:${join(other, 'states.db')}` },
    });
    assert.equal(JSON.parse(fromEnv.stdout), 'from the environment');
    const fromOption = await runCli(['--storage', 'file:./.plugin-state', 'get', theme, '--data'], {
      cwd: dir,
      env: { PLUGIN_STATE_URL: 'sqlite:./nowhere.db' },
    });
    assert.equal(
      JSON.parse(fromOption.stdout),
      'default',
      '--storage before the command wins over the environment',
    );
  });

  it('the built bin (dist/cli/main.js) runs with its shebang', {
    skip: !existsSync(BUILT_ENTRY) && 'dist/ is not built',
  }, async (t) => {
    assert.match(readFileSync(BUILT_ENTRY, 'utf8'), /^#!\/usr\/bin\/env node\n/);
    const url = `file:${join(tempDir(t), 'states')}`;
    await seed(url, [{ pluginId: theme, data: { built: true } }]);
    const result = await runCli(['list', '--json', '--storage', url], { built: true });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).states[0].pluginId, theme);
    const usage = await runCli(['nope'], { built: true });
    assert.equal(usage.code, 2);
  });
});
