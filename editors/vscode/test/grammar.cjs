// Tokenizes .scale files with the TextMate engine VS Code uses
// (vscode-textmate + the Oniguruma WebAssembly build) and prints, per line,
// `LINE:COL text scope` for every token that has a scope beyond the root.
//
//   node test/grammar.cjs NODE_MODULES_DIR FILE.scale...
'use strict';

const fs = require('fs');
const path = require('path');

const modules = process.argv[2];
const need = (name) => require(path.join(modules, name));
const vsctm = need('vscode-textmate');
const oniguruma = need('vscode-oniguruma');

async function main() {
  const wasm = fs.readFileSync(path.join(modules, 'vscode-oniguruma/release/onig.wasm')).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (p) => new oniguruma.OnigScanner(p),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope) => {
      if (scope !== 'source.scale') return null;
      const file = path.join(__dirname, '..', 'syntaxes', 'scale.tmLanguage.json');
      return vsctm.parseRawGrammar(fs.readFileSync(file, 'utf8'), file);
    },
  });
  const grammar = await registry.loadGrammar('source.scale');
  if (!grammar) throw new Error('the grammar did not load');
  for (const file of process.argv.slice(3)) {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    let state = vsctm.INITIAL;
    lines.forEach((line, i) => {
      const r = grammar.tokenizeLine(line, state);
      for (const t of r.tokens) {
        const scopes = t.scopes.filter((s) => s !== 'source.scale');
        const text = line.slice(t.startIndex, t.endIndex);
        if (scopes.length && text.trim()) {
          console.log(`${i}:${t.startIndex} ${text} ${scopes.join(' ')}`);
        }
      }
      state = r.ruleStack;
    });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
