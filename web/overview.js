/* Overview page: workers, jobs by state, tasks/s chart, DAG list. */
'use strict';
var STATES = ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'DEAD', 'CANCELLED'];

function drawCounts(c) {
	var max = 1;
	STATES.forEach(function (s) { max = Math.max(max, c[s] || 0); });
	T.replace(document.getElementById('counts'), STATES.map(function (s) {
		var n = c[s] || 0, w = Math.round(160 * n / max);
		var bar = T.el('span', { 'class': 'bar', style: 'width:' + w + 'px;background:var(--' + s + ')' });
		return T.el('tr', { 'data-state': s }, [
			T.el('td', {}, [T.state(s)]),
			T.el('td', { 'class': 'count', text: String(n) }),
			T.el('td', {}, [bar])]);
	}));
}

/* A small line chart of the samples, newest on the right. */
function drawRate(r) {
	var W = 360, H = 110, pad = 24, v = r.per_s || [], max = 1;
	v.forEach(function (x) { max = Math.max(max, x); });
	var svg = T.svg('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, id: 'rate-chart' });
	svg.appendChild(T.svg('line', { x1: pad, y1: H - pad, x2: W, y2: H - pad, 'class': 'axis' }));
	svg.appendChild(T.svg('line', { x1: pad, y1: 4, x2: pad, y2: H - pad, 'class': 'axis' }));
	var top = T.svg('text', { x: 0, y: 14 });
	top.textContent = max.toFixed(max < 10 ? 1 : 0);
	svg.appendChild(top);
	var span = (r.step_s || 5) * 72, lbl = T.svg('text', { x: pad, y: H - 6 });
	lbl.textContent = '-' + Math.round(span / 60) + ' min';
	svg.appendChild(lbl);
	var now = T.svg('text', { x: W - 30, y: H - 6 });
	now.textContent = 'now';
	svg.appendChild(now);
	if (v.length) {
		var step = (W - pad) / 71, pts = v.map(function (x, i) {
			var px = W - (v.length - 1 - i) * step;
			return px.toFixed(1) + ',' + (H - pad - (H - pad - 6) * x / max).toFixed(1);
		});
		svg.appendChild(T.svg('polyline', { points: pts.join(' '), fill: 'none', stroke: '#2f6fde', 'stroke-width': 2 }));
	}
	T.replace(document.getElementById('rate'), [svg]);
}

function drawWorkers(ws) {
	var rows = ws.map(function (w) {
		var cap = w.capacity || 0, run = w.running || 0;
		var bar = T.el('span', { 'class': 'bar', style: 'width:' + (cap ? Math.round(80 * run / cap) : 0) + 'px' });
		return T.el('tr', { 'class': 'worker', 'data-worker': w.id }, [
			T.el('td', { text: w.id }), T.el('td', { text: w.host + (w.port ? ':' + w.port : '') }),
			T.el('td', { text: (w.capabilities || []).join(', ') }),
			T.el('td', { text: String(cap) }),
			T.el('td', {}, [run + '/' + cap + ' ', bar]),
			T.el('td', { 'class': w.alive ? 'alive' : 'gone', text: w.alive ? 'alive' : 'dead' }),
			T.el('td', { text: T.time(w.last_seen_ms) })]);
	});
	if (!rows.length)
		rows = [T.el('tr', {}, [T.el('td', { colspan: 7, 'class': 'muted', text: 'no worker registered' })])];
	T.replace(document.getElementById('workers'), rows);
}

function drawDags(ds) {
	ds = ds.slice().sort(function (a, b) { return (b.created_ms || 0) - (a.created_ms || 0); }).slice(0, 200);
	var rows = ds.map(function (d) {
		return T.el('tr', { 'class': 'dag' }, [
			T.el('td', {}, [T.el('a', { href: '/dags/' + encodeURIComponent(d.id), text: d.id })]),
			T.el('td', {}, [T.state(d.state)]), T.el('td', { text: String(d.jobs) }),
			T.el('td', { text: T.time(d.created_ms) })]);
	});
	if (!rows.length)
		rows = [T.el('tr', {}, [T.el('td', { colspan: 4, 'class': 'muted', text: 'no DAG submitted' })])];
	T.replace(document.getElementById('dags'), rows);
}

T.stream(T.api('events'), {
	overview: function (o) {
		drawCounts(o.counts || {});
		drawRate(o.rate || {});
		drawWorkers(o.workers || []);
		drawDags(o.dags || []);
	}
});
