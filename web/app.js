/* Titan dashboard: helpers shared by every page (no framework). */
'use strict';
var T = {};
T.el = function (tag, attrs, kids) {
	var e = document.createElement(tag);
	for (var k in attrs || {}) {
		if (k === 'text') e.textContent = attrs[k];
		/* CSSOM, not the attribute: the CSP forbids inline styles. */
		else if (k === 'style') e.style.cssText = attrs[k];
		else e.setAttribute(k, attrs[k]);
	}
	(kids || []).forEach(function (c) {
		e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
	});
	return e;
};
T.svg = function (tag, attrs) {
	var e = document.createElementNS('http://www.w3.org/2000/svg', tag);
	for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
	return e;
};
T.state = function (s) {
	return T.el('span', { 'class': 'state ' + (s || 'PENDING'), text: s || '?' });
};
T.time = function (ms) {
	return ms ? new Date(ms).toLocaleTimeString() : '-';
};
T.dur = function (a, b) {
	if (!a) return '-';
	var ms = (b || Date.now()) - a;
	return ms < 1000 ? ms + ' ms' : (ms / 1000).toFixed(1) + ' s';
};
T.idFromPath = function () {
	return decodeURIComponent(location.pathname.split('/')[2] || '');
};
T.api = function (path) {
	return '/api/' + path;
};
T.terminal = function (s) {
	return s === 'COMPLETED' || s === 'DEAD' || s === 'CANCELLED';
};
/* An EventSource that shows its connection state in the header. */
T.stream = function (url, handlers) {
	var es = new EventSource(url), st = document.getElementById('conn');
	es.onopen = function () {
		if (st) st.textContent = 'live';
		if (handlers.open) handlers.open();
	};
	es.onerror = function () {
		if (st) st.textContent = 'reconnecting...';
	};
	Object.keys(handlers).forEach(function (k) {
		if (k !== 'open') es.addEventListener(k, function (ev) {
			handlers[k](JSON.parse(ev.data));
		});
	});
	return es;
};
T.replace = function (node, kids) {
	while (node.firstChild) node.removeChild(node.firstChild);
	kids.forEach(function (k) { node.appendChild(k); });
};
