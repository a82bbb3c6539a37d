// The reference side of LlhttpDifferentialTests: Node's own HTTP/1.1 parser (llhttp, strict: no lenient flags,
// exactly as Node's http server runs it) on the same bytes as the proxy's parser.
// stdin: one base64 request per line. stdout: one JSON object per line:
//   { outcome: "complete" | "forwarding" (head taken, body incomplete) | "incomplete" | "rejected", error, method, url, major, minor, headers: [[name, value]...],
//     body: base64, consumed, upgrade }
// "consumed" is where the first message ends (found by feeding prefixes: the first message completes at exactly
// its last byte); bytes after it belong to the next pipelined message and are not judged here.
'use strict';
process.noDeprecation = true;
const { HTTPParser, methods } = process.binding('http_parser');
const readline = require('readline');

function run(buf) {
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {}, 0, HTTPParser.kLenientNone);
  const result = { outcome: 'incomplete', headers: [], body: [] , url: ''};
  let done = false;
  let headersComplete = false;
  parser[HTTPParser.kOnHeaders] = (headers, url) => {
    // Node flushes fields in batches of 32, and trailer fields after the body (with the url again): only the
    // header section's fields are compared here.
    if (done || headersComplete) return;
    for (let i = 0; i < headers.length; i += 2) result.headers.push([headers[i], headers[i + 1]]);
    result.url += url || '';
  };
  parser[HTTPParser.kOnHeadersComplete] = (major, minor, headers, method, url, statusCode, statusMessage, upgrade, keepAlive) => {
    if (done) return;
    if (headers) for (let i = 0; i < headers.length; i += 2) result.headers.push([headers[i], headers[i + 1]]);
    if (url) result.url += url;
    result.major = major; result.minor = minor; result.method = methods[method]; result.upgrade = !!upgrade;
    result.keepAlive = !!keepAlive;
    result.headersComplete = headersComplete = true;
    return 0;
  };
  parser[HTTPParser.kOnBody] = (b) => { if (!done) result.body.push(Buffer.from(b)); };
  parser[HTTPParser.kOnMessageComplete] = () => { if (!done) { done = true; result.outcome = 'complete'; } };
  let ret;
  try { ret = parser.execute(buf); } catch (e) { ret = e; }
  if (ret instanceof Error && !done) {
    result.outcome = 'rejected';
    result.error = ret.code + ': ' + ret.reason;
  }
  // The head was taken but the body is not all there: a proxy would be forwarding it by now.
  if (result.outcome === 'incomplete' && result.headersComplete) result.outcome = 'forwarding';
  result.body = Buffer.concat(result.body).toString('base64');
  return result;
}

function completesWithin(buf, n) {
  const r = run(buf.subarray(0, n));
  return r.outcome === 'complete';
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
const out = [];
rl.on('line', (line) => {
  const buf = Buffer.from(line.trim(), 'base64');
  const r = run(buf);
  if (r.outcome === 'complete') {
    let lo = 1, hi = buf.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (completesWithin(buf, mid)) hi = mid; else lo = mid + 1;
    }
    r.consumed = lo;
  }
  delete r.headersComplete;
  out.push(JSON.stringify(r));
});
rl.on('close', () => { process.stdout.write(out.join('\n') + '\n'); });
