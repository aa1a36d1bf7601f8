/* The AlertCenter page's own script: htmx does the requests and swaps; this file only decides when.
 * - `json-body`: the admin API takes JSON; an htmx extension encodes the action buttons' values so.
 * - Live: the SSE extension keeps /api/v1/events open and reconnects; each `incident` event makes the
 *   live sections reload, all three in one request (data-live), and the open incident
 *   (data-live-incident) when it is among the ids.
 *   After a reconnect (or a `resync` from a replica that lost Redis), everything reloads.
 * - While an incident is open in the side panel, or the keyboard focus is in the table, a reload
 *   keeps the rows in the order shown (new ones go last): nothing moves under the user.
 * No eval, no inline script: the page's Content-Security-Policy allows only scripts of the router. */
(function () {
  'use strict';
  var htmx = window.htmx;

  htmx.defineExtension('json-body', {
    onEvent: function (name, evt) {
      if (name === 'htmx:configRequest') evt.detail.headers['Content-Type'] = 'application/json';
    },
    encodeParameters: function (xhr, parameters) {
      xhr.overrideMimeType('text/json');
      var body = {};
      var add = function (value, key) {
        if (key !== '_csrf') body[key] = value;
      };
      if (typeof parameters.forEach === 'function') parameters.forEach(add);
      else
        Object.keys(parameters).forEach(function (key) {
          add(parameters[key], key);
        });
      return JSON.stringify(body);
    },
  });

  var rowsId = 'incident-rows';
  var liveId = 'live-sections';
  var live = function () {
    return document.getElementById('live');
  };
  var toastTimer;

  function toast(text, bad) {
    var el = document.getElementById('toast');
    if (!el) return;
    el.textContent = text;
    el.className = 'toast show' + (bad ? ' bad' : '');
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () {
      el.className = 'toast';
    }, 6000);
  }

  function setLive(text, state) {
    var el = live();
    if (!el) return;
    el.textContent = text;
    el.setAttribute('data-state', state);
  }

  function openId() {
    var open = document.querySelector('#detail [data-live-incident]');
    return open ? open.getAttribute('data-live-incident') : null;
  }

  function pinned() {
    var rows = document.getElementById(rowsId);
    if (!rows) return false;
    if (document.querySelector('#detail [data-live-incident]') && !document.querySelector('#detail.page')) return true;
    return rows.contains(document.activeElement);
  }

  function refreshAll() {
    document.querySelectorAll('[data-live], [data-live-incident]').forEach(function (el) {
      htmx.trigger(el, 'ac:changed');
    });
  }

  // The generation of the event being followed: the reloads it causes name it, so that the pages
  // reloading for one change share one render on the server.
  var liveGen = null;

  function fromStream(gen, reload) {
    liveGen = typeof gen === 'string' ? gen : null;
    try {
      reload();
    } finally {
      liveGen = null;
    }
  }

  function changed(ids) {
    document.querySelectorAll('[data-live]').forEach(function (el) {
      htmx.trigger(el, 'ac:changed');
    });
    document.querySelectorAll('[data-live-incident]').forEach(function (el) {
      if (ids.indexOf(el.getAttribute('data-live-incident')) >= 0) htmx.trigger(el, 'ac:changed');
    });
  }

  function markSelected() {
    var id = openId();
    document.querySelectorAll('#' + rowsId + ' tr[data-id]').forEach(function (tr) {
      if (tr.getAttribute('data-id') === id) tr.setAttribute('aria-selected', 'true');
      else tr.removeAttribute('aria-selected');
    });
  }

  var everOpen = false;
  var lostConnection = false;
  document.addEventListener('htmx:sseOpen', function (evt) {
    var source = evt.detail && evt.detail.source;
    if (source && !source.__alertcenter) {
      source.__alertcenter = true;
      source.addEventListener('incident', function (message) {
        var data;
        try {
          data = JSON.parse(message.data);
        } catch {
          refreshAll();
          return;
        }
        fromStream(data.gen, function () {
          changed(data.ids || []);
        });
      });
      source.addEventListener('resync', function (message) {
        var gen = null;
        try {
          gen = JSON.parse(message.data).gen;
        } catch {
          /* none */
        }
        fromStream(gen, refreshAll);
      });
    }
    setLive('live', 'ok');
    // Whatever changed while the stream was down was not heard: reload it all.
    if (everOpen && lostConnection) refreshAll();
    everOpen = true;
    lostConnection = false;
  });
  document.addEventListener('htmx:sseError', function () {
    lostConnection = true;
    setLive('reconnecting…', 'bad');
  });

  document.addEventListener('htmx:configRequest', function (evt) {
    var elt = evt.detail.elt;
    if (liveGen !== null && elt && elt.hasAttribute && elt.hasAttribute('data-live')) evt.detail.parameters.gen = liveGen;
    if (elt && elt.id === liveId && pinned()) {
      var ids = [];
      document.querySelectorAll('#' + rowsId + ' tr[data-id]').forEach(function (tr) {
        ids.push(tr.getAttribute('data-id'));
      });
      evt.detail.parameters.order = ids.join(',');
    }
  });

  document.addEventListener('htmx:afterSwap', function (evt) {
    var target = evt.detail.target;
    if (!target) return;
    if (target.id === 'detail') {
      markSelected();
      var heading = target.querySelector('h2');
      if (heading && evt.detail.requestConfig && evt.detail.requestConfig.elt && evt.detail.requestConfig.elt.hasAttribute('data-open')) heading.focus();
    } else if (target.id === rowsId) {
      markSelected();
    }
  });
  document.addEventListener('htmx:oobAfterSwap', function (evt) {
    if (evt.detail.target && evt.detail.target.id === rowsId) markSelected();
  });

  document.addEventListener('click', function (evt) {
    var close = evt.target.closest && evt.target.closest('[data-close]');
    if (!close) return;
    var detail = document.getElementById('detail');
    if (!detail || detail.classList.contains('page')) {
      window.location.href = '/#incidents';
      return;
    }
    var id = openId();
    detail.innerHTML = '';
    markSelected();
    var link = id && document.getElementById('open-' + id);
    if (link) link.focus();
  });

  document.addEventListener('keydown', function (evt) {
    if (evt.key === 'Escape' && openId() && !document.querySelector('#detail.page')) {
      var close = document.querySelector('#detail [data-close]');
      if (close) close.click();
    }
  });

  // An action's answer is read from its request, not from htmx's afterRequest event: a live reload
  // may replace the row, and its button, before the answer comes, and the events of a button no
  // longer in the document never reach this listener.
  document.addEventListener('htmx:beforeSend', function (evt) {
    var elt = evt.detail.elt;
    if (!elt || !elt.hasAttribute || !elt.hasAttribute('data-action')) return;
    var action = elt.getAttribute('data-action');
    var id = elt.getAttribute('data-incident');
    evt.detail.xhr.addEventListener('load', function () {
      actionAnswered(this, action, id);
    });
  });

  function actionAnswered(xhr, action, id) {
    if (xhr.status >= 200 && xhr.status < 300) {
      toast(action + '.', false);
      changed(id ? [id] : []);
      return;
    }
    if (xhr.status === 401) {
      window.location.href = '/login?expired=1';
      return;
    }
    var message = 'The action failed';
    try {
      message = JSON.parse(xhr.responseText).error.message || message;
    } catch {
      /* not JSON */
    }
    toast(xhr.status + ': ' + message, true);
  }

  document.addEventListener('htmx:sendError', function () {
    toast('The router did not answer: retrying when it is back.', true);
  });
})();
