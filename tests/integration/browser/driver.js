// The integration tests' hands on a real browser: puppeteer-core (installed
// into tests/node/node_modules by scripts/deps --test) connected to a
// Chromium the Python test has started (chromium.py), driven one command at
// a time over stdin/stdout.
//
//   node driver.js WS_ENDPOINT
//
// Each line on stdin is one JSON command {"id": N, "op": OP, ...}; each line
// on stdout is its answer {"id": N, "ok": true, ...} or {"id": N, "ok":
// false, "error": "..."}. Commands:
//
//   version                          -> {version}
//   context                          -> {context}: a new browser context (its
//                                       own cookies, cache and connections)
//   page {context}                   -> {page}: a new page (tab) in it
//   goto {page, url, ms}             -> {status}: load and wait for "load"
//   eval {page, expr}                -> {value}: an expression in the page
//                                       (a promise is awaited); JSON values
//   wait {page, expr, ms}            -> {value}: until expr is truthy
//   log {page}                       -> {console, errors, failed}: what the
//                                       page printed, threw, failed to load
//   close {page} | close {context}   -> {}
//   quit                             -> {}: disconnects (the browser is the
//                                       Python test's to stop) and exits
//
// The driver never launches or kills the browser; it exits when stdin ends.
'use strict';

const path = require('path');
const readline = require('readline');
const puppeteer = require(path.join(__dirname, '..', '..', 'node', 'node_modules',
  'puppeteer-core'));

const endpoint = process.argv[2];
if (!endpoint) {
  process.stderr.write('usage: node driver.js WS_ENDPOINT\n');
  process.exit(2);
}

const contexts = new Map();
const pages = new Map();
let seq = 0;

function need(map, id, what) {
  const v = map.get(id);
  if (v === undefined) throw new Error(`no ${what} ${id}`);
  return v;
}

async function run(browser, cmd) {
  switch (cmd.op) {
    case 'version':
      return { version: await browser.version() };
    case 'context': {
      const id = `c${++seq}`;
      contexts.set(id, await browser.createBrowserContext());
      return { context: id };
    }
    case 'page': {
      const ctx = cmd.context ? need(contexts, cmd.context, 'context')
        : browser.defaultBrowserContext();
      const page = await ctx.newPage();
      const rec = { page, console: [], errors: [], failed: [] };
      page.on('console', (m) => rec.console.push(`${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => rec.errors.push(String(e && e.message ? e.message : e)));
      page.on('requestfailed', (r) => rec.failed.push(
        `${r.method()} ${r.url()}: ${r.failure() ? r.failure().errorText : '?'}`));
      const id = `p${++seq}`;
      pages.set(id, rec);
      return { page: id };
    }
    case 'goto': {
      const { page } = need(pages, cmd.page, 'page');
      const resp = await page.goto(cmd.url, { waitUntil: 'load', timeout: cmd.ms || 10000 });
      return { status: resp ? resp.status() : null };
    }
    case 'eval': {
      const { page } = need(pages, cmd.page, 'page');
      return { value: await page.evaluate(cmd.expr) };
    }
    case 'wait': {
      const { page } = need(pages, cmd.page, 'page');
      const h = await page.waitForFunction(cmd.expr, { timeout: cmd.ms || 10000,
        polling: 50 });
      const value = await h.jsonValue();
      await h.dispose();
      return { value };
    }
    case 'log': {
      const rec = need(pages, cmd.page, 'page');
      return { console: rec.console, errors: rec.errors, failed: rec.failed };
    }
    case 'close':
      if (cmd.page) {
        await need(pages, cmd.page, 'page').page.close();
        pages.delete(cmd.page);
      } else {
        await need(contexts, cmd.context, 'context').close();
        contexts.delete(cmd.context);
      }
      return {};
    default:
      throw new Error(`unknown op ${JSON.stringify(cmd.op)}`);
  }
}

async function main() {
  const browser = await puppeteer.connect({ browserWSEndpoint: endpoint,
    defaultViewport: null, protocolTimeout: 20000 });
  const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
  out({ id: 0, ok: true, ready: true });
  const rl = readline.createInterface({ input: process.stdin });
  // one command at a time, in order
  let chain = Promise.resolve();
  rl.on('line', (line) => {
    chain = chain.then(async () => {
      let cmd;
      try {
        cmd = JSON.parse(line);
      } catch (e) {
        out({ id: null, ok: false, error: `not JSON: ${line.slice(0, 80)}` });
        return;
      }
      if (cmd.op === 'quit') {
        out({ id: cmd.id, ok: true });
        await browser.disconnect();
        process.exit(0);
      }
      try {
        out(Object.assign({ id: cmd.id, ok: true }, await run(browser, cmd)));
      } catch (e) {
        out({ id: cmd.id, ok: false, error: String(e && e.message ? e.message : e) });
      }
    });
  });
  rl.on('close', () => chain.then(() => browser.disconnect()).then(() => process.exit(0)));
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ id: 0, ok: false, error: String(e && e.message ? e.message : e) }) + '\n');
  process.exit(1);
});
