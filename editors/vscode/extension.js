// The scale extension: starts `scalec lsp` (stdio) for .scale files.
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

/** The server command from the settings: `scale.server.path lsp`. */
function serverOptions() {
  const config = vscode.workspace.getConfiguration('scale');
  const command = config.get('server.path') || 'scalec';
  const extraEnv = config.get('server.extraEnv') || {};
  const run = {
    command,
    args: ['lsp'],
    options: { env: Object.assign({}, process.env, extraEnv) },
  };
  return { run, debug: run };
}

function clientOptions() {
  return {
    documentSelector: [
      { scheme: 'file', language: 'scale' },
      { scheme: 'untitled', language: 'scale' },
    ],
    synchronize: {
      fileEvents: vscode.workspace.createFileSystemWatcher('**/*.scale'),
    },
  };
}

async function start() {
  client = new LanguageClient('scale', 'scale', serverOptions(), clientOptions());
  await client.start();
}

async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('scale.restartServer', async () => {
      if (client) {
        await client.stop();
      }
      await start();
    }),
  );
  try {
    await start();
  } catch (e) {
    vscode.window.showErrorMessage(
      `scale: cannot start \`scalec lsp\` (${e.message || e}); set scale.server.path to the scalec binary`,
    );
  }
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate, serverOptions, clientOptions };
