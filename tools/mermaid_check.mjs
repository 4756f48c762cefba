// Parses Mermaid diagrams with Mermaid's own parser (no browser: jsdom stands in for the
// DOM it touches while loading). Input on stdin: [{file, line, text}]; prints one line per
// diagram that does not parse and exits 1 if any. Called by tools/check_docs.py.
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

let input = "";
for await (const chunk of process.stdin) input += chunk;
let failed = 0;
for (const { file, line, text } of JSON.parse(input)) {
  try {
    await mermaid.parse(text);
  } catch (err) {
    failed += 1;
    const reason = String(err?.message ?? err).split("\n").filter(Boolean).join(" ");
    console.log(`${file}:${line}: the Mermaid diagram does not parse: ${reason}`);
  }
}
process.exit(failed ? 1 : 0);
