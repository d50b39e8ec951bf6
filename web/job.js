/* Job page: what it runs, its timings, and its output live over SSE. */
'use strict';
var jobId = T.idFromPath(), logEl = document.getElementById('log'), nLines = 0;

function info(j) {
	document.title = 'Titan - ' + j.id;
	document.getElementById('title').textContent = j.id;
	T.replace(document.getElementById('jobstate'), [T.state(j.state)]);
	var kv = [
		['command', (j.argv && j.argv.length) ? j.argv.join(' ') : '-'],
		['DAG', j.dag ? T.el('a', { href: '/dags/' + encodeURIComponent(j.dag), text: j.dag }) : '-'],
		['capability', j.capability || '-'], ['priority', String(j.priority)],
		['worker', j.worker || '-'],
		['attempts', j.attempts + ' of ' + (j.retries + 1)],
		['timeout', j.timeout_ms ? j.timeout_ms + ' ms' : 'none'],
		['created', T.time(j.created_ms)], ['started', T.time(j.started_ms)],
		['finished', T.time(j.finished_ms)],
		['run time', j.started_ms ? T.dur(j.started_ms, j.finished_ms) : '-'],
		['exit code', j.exit_code === null || j.exit_code === undefined ? '-' : String(j.exit_code)],
		['result', j.result || '-'],
		['parents', (j.parents || []).join(', ') || '-'],
		['children', (j.children || []).join(', ') || '-']];
	var kids = [];
	kv.forEach(function (p) {
		kids.push(T.el('dt', { text: p[0] }));
		kids.push(T.el('dd', { 'data-key': p[0] }, [p[1]]));
	});
	T.replace(document.getElementById('info'), kids);
	logEl.setAttribute('data-state', j.state);
}

function line(m) {
	/* Follow the tail unless the reader scrolled up. */
	var atEnd = logEl.scrollTop + logEl.clientHeight >= logEl.scrollHeight - 4;
	logEl.appendChild(T.el('span', { 'class': 'line ' + m.s, text: m.l + '\n' }));
	nLines++;
	document.getElementById('nlines').textContent = nLines + ' lines';
	if (atEnd) logEl.scrollTop = logEl.scrollHeight;
}

var es = T.stream(T.api('jobs/' + encodeURIComponent(jobId) + '/events'), {
	/* Every (re)connection replays the buffered history first. */
	open: function () { T.replace(logEl, []); nLines = 0; },
	job: function (j) {
		info(j);
		if (T.terminal(j.state)) {
			es.close();
			document.getElementById('conn').textContent = 'finished';
		}
	},
	message: line
});
