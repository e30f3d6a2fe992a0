// Loads extension.js outside VS Code, with a stand-in for the `vscode`
// module and for vscode-languageclient's LanguageClient, activates it, and
// runs the server command it chose exactly as the client would (stdio,
// its arguments and environment): the server must answer `initialize`.
// Prints the server's name and the command line on success.
//
//   node test/activate.cjs PATH_TO_SCALEC
'use strict';

const Module = require('module');
const { spawn } = require('child_process');
const path = require('path');

const scalec = process.argv[2];
let created = null;

class LanguageClient {
  constructor(id, name, serverOptions, clientOptions) {
    created = { id, name, serverOptions, clientOptions };
  }
  async start() {}
  async stop() {}
}

const settings = { 'server.path': scalec, 'server.extraEnv': { SCALEC_LSP_PROBE: '1' } };
const vscode = {
  workspace: {
    getConfiguration: (section) => {
      if (section !== 'scale') throw new Error(`unexpected section ${section}`);
      return { get: (key) => settings[key] };
    },
    createFileSystemWatcher: (glob) => ({ glob, dispose() {} }),
  },
  commands: { registerCommand: (name, fn) => ({ name, fn, dispose() {} }) },
  window: {
    showErrorMessage: (m) => {
      throw new Error(`the extension reported: ${m}`);
    },
  },
};

const load = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === 'vscode') return vscode;
  if (request === 'vscode-languageclient/node') return { LanguageClient };
  return load.call(this, request, parent, isMain);
};

function frame(msg) {
  const body = JSON.stringify(msg);
  return `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

async function main() {
  const ext = require(path.join(__dirname, '..', 'extension.js'));
  const context = { subscriptions: [] };
  await ext.activate(context);
  if (!created) throw new Error('activate() created no language client');
  const selector = created.clientOptions.documentSelector.map((d) => d.language);
  if (!selector.includes('scale')) throw new Error(`document selector: ${selector}`);
  if (!context.subscriptions.some((s) => s.name === 'scale.restartServer')) {
    throw new Error('scale.restartServer is not registered');
  }
  const run = created.serverOptions.run;
  if (run.options.env.SCALEC_LSP_PROBE !== '1') throw new Error('extraEnv is not passed');
  const child = spawn(run.command, run.args, { env: run.options.env, stdio: ['pipe', 'pipe', 'inherit'] });
  const timer = setTimeout(() => {
    child.kill();
    console.error('no answer to initialize within 20 s');
    process.exit(1);
  }, 20000);
  let buf = Buffer.alloc(0);
  let answered = false;
  child.stdout.on('data', (d) => {
    if (answered) return;
    buf = Buffer.concat([buf, d]);
    const text = buf.toString('utf8');
    const at = text.indexOf('\r\n\r\n');
    if (at < 0) return;
    const len = Number(/Content-Length: (\d+)/.exec(text)[1]);
    const body = buf.slice(Buffer.byteLength(text.slice(0, at + 4)));
    if (body.length < len) return;
    const msg = JSON.parse(body.slice(0, len).toString('utf8'));
    answered = true;
    clearTimeout(timer);
    console.log(`${msg.result.serverInfo.name} via ${run.command} ${run.args.join(' ')}`);
    child.stdin.write(frame({ jsonrpc: '2.0', id: 2, method: 'shutdown' }));
    child.stdin.write(frame({ jsonrpc: '2.0', method: 'exit' }));
    child.stdin.end();
  });
  child.on('exit', (code) => process.exit(code === 0 ? 0 : 1));
  child.stdin.write(
    frame({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { processId: null, rootUri: null, capabilities: {} } }),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
