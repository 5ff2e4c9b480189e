'use strict';
// The jam-vote peer on `ws`: node ws-server.js 127.0.0.1:PORT (ADMIN_TOKEN, TICK_MS in the
// environment).  WebSocket at /ws, one JSON object per text frame, as cojam's protocol; a
// broadcast is serialised once into a Buffer and handed to every member's socket; keep-alive pings
// every 30 s and a connection that missed one is terminated (the ws README's heartbeat).
const http = require('http');
const { WebSocketServer, WebSocket } = require('ws');
const { handle, httpHandler, listenAddress } = require('./jam');

const server = http.createServer(httpHandler(process.env.ADMIN_TOKEN || ''));
const wss = new WebSocketServer({
  server,
  path: '/ws',
  maxPayload: 64 * 1024,
  handleProtocols: (protocols) => (protocols.has('cojam.v1') ? 'cojam.v1' : false),
});

const members = new Map(); // jam -> Set of sockets

function broadcast(jam, msg) {
  const data = Buffer.from(JSON.stringify(msg));
  for (const ws of members.get(jam) || []) if (ws.readyState === WebSocket.OPEN) ws.send(data, { binary: false });
}

wss.on('connection', (ws) => {
  const s = { jam: null, p: null };
  ws.isAlive = true;
  ws.on('pong', () => { ws.isAlive = true; });
  const io = {
    send: (msg) => ws.send(JSON.stringify(msg)),
    join: (jam) => {
      if (!members.has(jam)) members.set(jam, new Set());
      members.get(jam).add(ws);
    },
    broadcast,
  };
  ws.on('message', (data, isBinary) => {
    ws.isAlive = true;
    if (isBinary) return;
    let m;
    try { m = JSON.parse(data.toString('utf8')); } catch { return io.send({ type: 'error', code: 'bad_json' }); }
    handle(s, m, io);
  });
  ws.on('close', () => { if (s.jam) members.get(s.jam)?.delete(ws); });
  ws.on('error', () => {});
});

const heartbeat = setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.isAlive) { ws.terminate(); continue; }
    ws.isAlive = false;
    ws.ping();
  }
}, 30000);
wss.on('close', () => clearInterval(heartbeat));

const { host, port } = listenAddress();
server.listen(port, host, () => console.log(`ws peer listening on ${host}:${port}`));
