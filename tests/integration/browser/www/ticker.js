// The browser test's page (tests/integration/test_browser.py): it asks
// /echo who it is (the echo names the client address and port of the
// connection, which the test maps to the worker holding it), then opens an
// EventSource on /events (the ticker handler) and keeps every event.
// What it saw is in window.page for the test to read.
'use strict';

window.page = { echo: null, ticks: [], opens: 0, errors: [] };

function show(id, text) {
  document.getElementById(id).textContent = text;
}

fetch('/echo', { cache: 'no-store' })
  .then((r) => r.json())
  .then((echo) => {
    window.page.echo = echo;
    show('client', echo.client);
    const es = new EventSource('/events');
    es.onopen = () => { window.page.opens += 1; };
    es.onmessage = (ev) => {
      const tick = JSON.parse(ev.data).tick;
      window.page.ticks.push(tick);
      const li = document.createElement('li');
      li.textContent = 'tick ' + tick;
      document.getElementById('ticks').appendChild(li);
    };
    // the ticker ends its stream after "count" events: EventSource then
    // reconnects by itself, which is not an error of the page
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) window.page.errors.push('EventSource closed');
    };
  })
  .catch((e) => { window.page.errors.push(String(e)); });
