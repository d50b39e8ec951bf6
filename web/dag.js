/* DAG page: the graph as SVG with a layered layout, live over SSE. */
'use strict';
var dagId = T.idFromPath();
var NW = 150, NH = 30, GX = 60, GY = 16, PAD = 12;

/*
 * Layers: a job's column is the length of the longest path from a root.
 * Within a column, jobs are ordered by the mean row of their parents
 * (one barycentre pass), which keeps most edges short and uncrossed.
 */
function layout(jobs) {
	var byId = {}, layer = {}, cols = [];
	jobs.forEach(function (j) { byId[j.id] = j; });
	function depth(id, seen) {
		if (layer[id] !== undefined) return layer[id];
		if (seen[id]) return 0; /* a cycle cannot be submitted; be safe */
		seen[id] = true;
		var d = 0;
		(byId[id].parents || []).forEach(function (p) {
			if (byId[p]) d = Math.max(d, depth(p, seen) + 1);
		});
		layer[id] = d;
		return d;
	}
	jobs.forEach(function (j) { depth(j.id, {}); });
	jobs.forEach(function (j) {
		(cols[layer[j.id]] = cols[layer[j.id]] || []).push(j);
	});
	var row = {};
	cols.forEach(function (col, ci) {
		if (ci > 0) col.forEach(function (j) {
			var ps = (j.parents || []).filter(function (p) { return row[p] !== undefined; });
			j._bc = ps.length ? ps.reduce(function (s, p) { return s + row[p]; }, 0) / ps.length : 1e9;
		});
		if (ci > 0) col.sort(function (a, b) { return a._bc - b._bc; });
		col.forEach(function (j, i) { row[j.id] = i; });
	});
	var pos = {}, maxRows = 0;
	cols.forEach(function (col, ci) {
		maxRows = Math.max(maxRows, col.length);
		col.forEach(function (j, i) {
			pos[j.id] = { x: PAD + ci * (NW + GX), y: PAD + i * (NH + GY) };
		});
	});
	return { pos: pos, w: PAD * 2 + cols.length * (NW + GX) - GX, h: PAD * 2 + maxRows * (NH + GY) - GY };
}

function shortName(id) {
	var s = id.replace(/^DAG-/, '');
	return s.length > 20 ? s.slice(0, 19) + '\u2026' : s;
}

function draw(d) {
	document.getElementById('title').textContent = 'DAG ' + d.id;
	T.replace(document.getElementById('dagstate'), [T.state(d.state)]);
	var jobs = d.jobs || [], L = layout(jobs);
	var svg = T.svg('svg', { width: Math.max(L.w, 200), height: Math.max(L.h, 60), id: 'dag-graph' });
	jobs.forEach(function (j) {
		(j.parents || []).forEach(function (p) {
			var a = L.pos[p], b = L.pos[j.id];
			if (!a || !b) return;
			var x1 = a.x + NW, y1 = a.y + NH / 2, x2 = b.x, y2 = b.y + NH / 2, mx = (x1 + x2) / 2;
			svg.appendChild(T.svg('path', { 'class': 'edge', d: 'M' + x1 + ',' + y1 + ' C' + mx + ',' + y1 + ' ' + mx + ',' + y2 + ' ' + x2 + ',' + y2 }));
		});
	});
	jobs.forEach(function (j) {
		var p = L.pos[j.id];
		var a = T.svg('a', { href: '/jobs/' + encodeURIComponent(j.id) });
		var g = T.svg('g', { 'class': 'node', 'data-job': j.id, 'data-state': j.state });
		g.appendChild(T.svg('rect', { x: p.x, y: p.y, width: NW, height: NH, rx: 5, fill: 'var(--' + j.state + ', #9aa4b2)' }));
		var t = T.svg('text', { x: p.x + 8, y: p.y + 19 });
		t.textContent = shortName(j.id);
		var tip = T.svg('title');
		tip.textContent = j.id + ' - ' + j.state;
		g.appendChild(t);
		g.appendChild(tip);
		a.appendChild(g);
		svg.appendChild(a);
	});
	T.replace(document.getElementById('graph'), [svg]);
	T.replace(document.getElementById('jobs'), jobs.map(function (j) {
		return T.el('tr', { 'class': 'job', 'data-job': j.id, 'data-state': j.state }, [
			T.el('td', {}, [T.el('a', { href: '/jobs/' + encodeURIComponent(j.id), text: j.id })]),
			T.el('td', {}, [T.state(j.state)]),
			T.el('td', { text: (j.parents || []).join(', ') }),
			T.el('td', { text: j.worker || '-' })]);
	}));
}

document.title = 'Titan - DAG ' + dagId;
var es = T.stream(T.api('dags/' + encodeURIComponent(dagId) + '/events'), {
	dag: function (d) {
		draw(d);
		if (T.terminal(d.state) || d.state === 'FAILED') {
			es.close();
			document.getElementById('conn').textContent = 'finished';
		}
	}
});
