'use strict';
// The jam-vote peer on socket.io: node socketio-server.js 127.0.0.1:PORT (ADMIN_TOKEN, TICK_MS in
// the environment).  Engine.IO over WebSocket only (transports: ['websocket'], no long-polling);
// cojam's JSON messages travel as the payload of socket.io "message" events (socket.send() /
// socket.on('message')); a jam is a socket.io room, and a broadcast is io.to(room).emit(), which
// encodes the packet once for all members.  Engine.IO's own heartbeat (ping 25 s, timeout 20 s).
const http = require('http');
const { Server } = require('socket.io');
const { handle, httpHandler, listenAddress } = require('./jam');

const server = http.createServer(httpHandler(process.env.ADMIN_TOKEN || ''));
const io = new Server(server, {
  transports: ['websocket'],
  serveClient: false,
  maxHttpBufferSize: 64 * 1024,
  cors: { origin: '*' },
});

const broadcast = (jam, msg) => io.to(jam.code).emit('message', msg);

io.on('connection', (socket) => {
  const s = { jam: null, p: null };
  const conn = {
    send: (msg) => socket.emit('message', msg),
    join: (jam) => socket.join(jam.code),
    broadcast,
  };
  socket.on('message', (m) => {
    if (typeof m === 'string') {
      try { m = JSON.parse(m); } catch { return conn.send({ type: 'error', code: 'bad_json' }); }
    }
    handle(s, m, conn);
  });
});

const { host, port } = listenAddress();
server.listen(port, host, () => console.log(`socket.io peer listening on ${host}:${port}`));
