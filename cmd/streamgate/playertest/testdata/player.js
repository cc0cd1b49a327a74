// One stock player on one page, set up from the URL's query, the way a web
// page of a streaming service would use it. The Go tests read window.state.
//
// Query: player=hls|shaka|dash, src=<manifest URL>, h=<Name: value> (repeated;
// headers set on every request), cmcd=header|query (CMCD on, in that mode),
// cookie=<name=value> (set before the player starts), cred=1 (send cookies
// cross-origin), buffer=<s> (how far ahead the player may fetch; default: the
// player's own setting).
'use strict';

const params = new URLSearchParams(location.search);
const kind = params.get('player');
const src = params.get('src');
const cmcd = params.get('cmcd') || '';
const cred = params.get('cred') === '1';
const buffer = Number(params.get('buffer') || 0);
const headers = {};
for (const h of params.getAll('h')) {
  const i = h.indexOf(':');
  headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
}
if (params.get('cookie')) {
  document.cookie = params.get('cookie') + '; path=/; SameSite=Lax';
}

const video = document.getElementById('video');
video.muted = true;

// errors: what the player reported, in order; fatal: the player gave up.
window.state = {
  kind, currentTime: 0, buffered: 0, playing: false, ended: false,
  errors: [], fatal: null, lastStatus: 0, statuses: [], started: Date.now(),
};
const state = window.state;

function bodyText(b) {
  if (b == null) return '';
  if (typeof b === 'string') return b;
  try {
    if (b instanceof ArrayBuffer) return new TextDecoder().decode(b);
    if (ArrayBuffer.isView(b)) return new TextDecoder().decode(b);
  } catch (e) { /* not text */ }
  return String(b);
}

function problemDetail(body) {
  try {
    const p = JSON.parse(body);
    return p.detail || p.title || '';
  } catch (e) {
    return '';
  }
}

// report records one error event; a fatal one shows the problem's detail, the
// text a person reads when playback ends.
function report(e) {
  e.at = Date.now() - state.started;
  e.body = bodyText(e.body).slice(0, 4000);
  state.errors.push(e);
  if (e.fatal && !state.fatal) {
    state.fatal = e;
    const detail = problemDetail(e.body);
    document.getElementById('problem').textContent =
      detail || ('Playback failed: ' + e.code + (e.status ? ' (HTTP ' + e.status + ')' : ''));
  }
}

function seen(status) {
  state.lastStatus = status;
  state.statuses.push(status);
  if (state.statuses.length > 200) state.statuses.shift();
}

function tick() {
  state.currentTime = video.currentTime;
  state.playing = !video.paused && !video.ended && video.readyState > 2;
  state.ended = video.ended;
  let ahead = 0;
  for (let i = 0; i < video.buffered.length; i++) {
    if (video.buffered.start(i) <= video.currentTime + 0.5 && video.buffered.end(i) > video.currentTime) {
      ahead = video.buffered.end(i) - video.currentTime;
    }
  }
  state.buffered = ahead;
}
setInterval(tick, 100);

function load(script) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = script;
    s.onload = resolve;
    s.onerror = () => reject(new Error('cannot load ' + script));
    document.head.appendChild(s);
  });
}

function startHls() {
  const config = {
    xhrSetup(xhr, url) {
      // hls.js calls this before opening; headers need an open request.
      xhr.open('GET', url, true);
      for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
      if (cred) xhr.withCredentials = true;
      xhr.addEventListener('loadend', () => seen(xhr.status));
    },
  };
  if (cmcd) config.cmcd = { useHeaders: cmcd === 'header' };
  if (buffer) Object.assign(config, { maxBufferLength: buffer, maxMaxBufferLength: buffer });
  const hls = new Hls(config);
  window.player = hls;
  hls.on(Hls.Events.ERROR, (ev, data) => {
    const xhr = data.networkDetails;
    let body = '';
    let retryAfter = '';
    if (xhr && xhr.readyState === 4) {
      body = xhr.responseType === '' || xhr.responseType === 'text' ? xhr.responseText : xhr.response;
      retryAfter = xhr.getResponseHeader('Retry-After') || '';
    }
    report({
      fatal: !!data.fatal, code: data.details,
      status: (data.response && data.response.code) || (xhr && xhr.status) || 0, body, retryAfter,
    });
  });
  hls.loadSource(src);
  hls.attachMedia(video);
  video.play().catch(() => {});
}

function startShaka() {
  shaka.polyfill.installAll();
  const player = new shaka.Player();
  window.player = player;
  const net = player.getNetworkingEngine();
  net.registerRequestFilter((type, request) => {
    Object.assign(request.headers, headers);
    if (cred) request.allowCrossSiteCredentials = true;
  });
  net.registerResponseFilter((type, response) => seen(response.status || 200));
  const onError = (error) => {
    // BAD_HTTP_STATUS: data = [uri, status, responseText, headers, type].
    const d = error.data || [];
    const status = error.code === 1001 ? d[1] : 0;
    if (status) seen(status);
    const h = (error.code === 1001 && d[3]) || {};
    report({
      fatal: error.severity === 2, code: String(error.code), severity: error.severity,
      status, body: error.code === 1001 ? d[2] : '', retryAfter: h['retry-after'] || '',
    });
  };
  player.addEventListener('error', (ev) => onError(ev.detail));
  if (cmcd) player.configure({ cmcd: { enabled: true, useHeaders: cmcd === 'header' } });
  if (buffer) player.configure({ streaming: { bufferingGoal: buffer, rebufferingGoal: Math.min(2, buffer) } });
  player.attach(video)
    .then(() => player.load(src))
    .then(() => video.play().catch(() => {}))
    .catch((error) => {
      // A load that failed rejects here; it is fatal whatever its severity.
      error.severity = 2;
      onError(error);
    });
}

function startDash() {
  const player = dashjs.MediaPlayer().create();
  window.player = player;
  player.addRequestInterceptor((request) => {
    request.headers = Object.assign({}, request.headers, headers);
    if (cred) request.credentials = 'include';
    return Promise.resolve(request);
  });
  // dash.js's error events carry no body; the response interceptor sees
  // every answer, failed ones included.
  let lastFailure = null;
  player.addResponseInterceptor((response) => {
    seen(response.status);
    if (response.status < 200 || response.status > 299) {
      const h = response.headers || {};
      lastFailure = { status: response.status, body: response.data, retryAfter: h['retry-after'] || h['Retry-After'] || '' };
    }
    return Promise.resolve(response);
  });
  const settings = {};
  settings.streaming = {};
  // dash.js names the header mode 'headers'.
  if (cmcd) settings.streaming.cmcd = { enabled: true, mode: cmcd === 'header' ? 'headers' : 'query' };
  if (buffer) settings.streaming.buffer = { bufferTimeDefault: buffer, bufferTimeAtTopQuality: buffer, bufferTimeAtTopQualityLongForm: buffer };
  player.updateSettings(settings);
  player.on(dashjs.MediaPlayer.events.ERROR, (ev) => {
    const err = ev.error || {};
    const f = lastFailure || {};
    report({
      fatal: true, code: String(err.code || ev.error), message: err.message || '',
      status: f.status || 0, body: f.body || '', retryAfter: f.retryAfter || '',
    });
  });
  player.initialize(video, src, true);
}

const scripts = {
  hls: ['/node_modules/hls.js/dist/hls.min.js', startHls],
  shaka: ['/node_modules/shaka-player/dist/shaka-player.compiled.js', startShaka],
  dash: ['/node_modules/dashjs/dist/modern/umd/dash.all.min.js', startDash],
};
const chosen = scripts[kind];
if (!chosen) {
  report({ fatal: true, code: 'page', body: '', status: 0 });
} else {
  load(chosen[0]).then(chosen[1]).catch((e) => {
    report({ fatal: true, code: 'page: ' + e.message, status: 0, body: '' });
  });
}

// mintedSession is the session the gate minted for this page (-mint-sessions),
// '' if none: it lives only in the URIs of the manifests the gate rewrote,
// so the page takes it from the last one the player fetched.
function mintedSession() {
  const fetched = performance.getEntriesByType('resource');
  for (let i = fetched.length - 1; i >= 0; i--) {
    const m = /[?&]sg_session=([^&#]+)/.exec(fetched[i].name);
    if (m) return m[1];
  }
  return '';
}

// closePlayer ends playback as a page does when the person leaves it: stop
// the player and tell the gate the session is over, naming a minted session
// as the player's requests did.
window.closePlayer = () => {
  const p = window.player;
  if (p) {
    if (p.destroy) p.destroy(); else if (p.reset) p.reset();
    window.player = null;
  }
  const end = new URL('/_streamgate/session', src);
  const minted = mintedSession();
  if (minted) end.search = 'sg_session=' + minted;
  return fetch(end.href, {
    method: 'DELETE', headers, keepalive: true, credentials: cred ? 'include' : 'same-origin',
  }).then((r) => r.status, () => 0);
};
