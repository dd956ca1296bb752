/* Baton control tower: draws GET /api/v1/dashboard and refreshes it on live events (SSE /api/v1/stream). */
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const tilesUrl = document.querySelector('meta[name="tiles-url"]').content;
  const $ = (sel) => document.querySelector(sel);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  let zone;  // the first depot's IANA time zone: times are shown as the depot's local time
  const hhmm = (iso) => {
    if (!iso) return "–";
    const opts = {hour: "2-digit", minute: "2-digit", hourCycle: "h23"};
    try { return new Date(iso).toLocaleTimeString([], Object.assign({timeZone: zone}, opts)); }
    catch (e) { return new Date(iso).toLocaleTimeString([], opts); }  // unknown zone name
  };
  const api = {
    async get(path) {
      const r = await fetch(path, {credentials: "same-origin", headers: {Accept: "application/json"}});
      if (r.status === 401) { window.location = "/login"; throw new Error("signed out"); }
      if (!r.ok) throw new Error(path + ": " + r.status);
      return r.json();
    },
    async post(path, body) {
      const r = await fetch(path, {method: "POST", credentials: "same-origin",
        headers: {Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf},
        body: JSON.stringify(body || {})});
      const answer = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(answer.detail || r.status);
      return answer;
    },
  };

  // --- map -------------------------------------------------------------------------------
  const map = L.map("map", {zoomControl: true});
  map.setView([0, 0], 2);
  if (tilesUrl) L.tileLayer(tilesUrl, {maxZoom: 19, attribution: "map tiles"}).addTo(map);
  const layers = {depots: L.layerGroup().addTo(map), routes: L.layerGroup().addTo(map),
                  orders: L.layerGroup().addTo(map), vehicles: L.layerGroup().addTo(map)};
  const vehicleMarkers = new Map();
  let fitted = false;
  const STATUS_COLOUR = {delivered: "#2ca02c", failed_attempt: "#d62728", returned_to_depot: "#d62728",
                         cancelled: "#999", created: "#555", reattempt: "#ff7f0e"};

  function placeVehicle(r, pos) {
    const ll = [pos.lat, pos.lng];
    const html = '<div class="vehicle-marker" data-route="' + esc(r.id) + '" data-vehicle="' + esc(r.vehicle_id) +
      '" data-state="' + esc(pos.state) + '" data-latlng="' + ll.join(",") + '" style="background:' + esc(r.color) + '"></div>';
    const icon = L.divIcon({className: "", html: html, iconSize: [16, 16]});
    const tip = esc(r.vehicle_id) + " · " + (pos.state === "gps" ? "GPS" : esc(pos.state.replace(/_/g, " "))) + " " + hhmm(pos.at);
    let m = vehicleMarkers.get(r.id);
    if (!m) { m = L.marker(ll, {icon: icon, zIndexOffset: 1000}).bindTooltip(tip).addTo(layers.vehicles); vehicleMarkers.set(r.id, m); }
    else { m.setLatLng(ll); m.setIcon(icon); m.setTooltipContent(tip); }
  }

  // GPS fixes pushed live (``vehicle.positions``): move the markers of routes on the road at once
  function moveVehicles(vehicles) {
    if (!dash.state) return;
    for (const v of vehicles) {
      for (const r of dash.state.routes) {
        if (r.vehicle_id !== v.vehicle_id || (r.status !== "dispatched" && r.status !== "in_progress")) continue;
        r.position = {lat: v.lat, lng: v.lng, state: "gps", at: v.ts, order_id: r.position ? r.position.order_id : null};
        placeVehicle(r, r.position);
      }
    }
  }

  function drawMap(state) {
    layers.depots.clearLayers(); layers.routes.clearLayers(); layers.orders.clearLayers();
    const bounds = [];
    const depots = Object.fromEntries(state.depots.map((d) => [d.id, d]));
    for (const d of state.depots) {
      L.marker([d.lat, d.lng], {icon: L.divIcon({className: "", html: '<div class="depot-marker"></div>', iconSize: [14, 14]}),
                                title: d.name}).bindTooltip("Depot " + esc(d.name)).addTo(layers.depots);
      bounds.push([d.lat, d.lng]);
    }
    for (const r of state.routes) {
      const s = depots[r.start_depot_id], e = depots[r.end_depot_id];
      const path = (s ? [[s.lat, s.lng]] : []).concat(r.path, e ? [[e.lat, e.lng]] : []);
      L.polyline(path, {color: r.color, weight: 3, opacity: r.status === "completed" ? 0.35 : 0.8})
        .bindTooltip("Route " + esc(r.id) + " · " + esc(r.vehicle_id)).addTo(layers.routes);
      path.forEach((p) => bounds.push(p));
    }
    for (const o of state.orders) {
      L.circleMarker([o.lat, o.lng], {radius: 3, weight: 1, color: STATUS_COLOUR[o.status] || "#1f77b4",
        fillOpacity: 0.8}).bindTooltip(esc(o.id) + " · " + esc(o.status)).addTo(layers.orders);
    }
    const seen = new Set();
    for (const r of state.routes) {
      if (!r.position || r.status === "planned") continue;
      seen.add(r.id);
      placeVehicle(r, r.position);
    }
    for (const [id, m] of vehicleMarkers) if (!seen.has(id)) { layers.vehicles.removeLayer(m); vehicleMarkers.delete(id); }
    if (!fitted && bounds.length) { map.fitBounds(bounds, {padding: [30, 30]}); fitted = true; }
  }

  // --- panels ------------------------------------------------------------------------------
  function drawKpis(k) {
    const pct = (v) => (v == null ? "–" : v.toFixed(1) + " %");
    const tiles = [["Orders", k.orders], ["Delivered", k.delivered], ["Failed", k.failed], ["Unassigned", k.unassigned],
      ["On time", pct(k.on_time_pct)], ["km", k.km.toFixed(1)], ["Driving h", k.driving_hours.toFixed(1)],
      ["Cost", k.cost.toFixed(0) + " " + k.currency], ["Vehicles", k.vehicles_used]];
    $("#kpis").innerHTML = tiles.map(([key, v]) =>
      '<div class="tile" data-kpi="' + esc(key) + '"><div class="v">' + esc(v) + '</div><div class="k">' + esc(key) + "</div></div>").join("");
  }

  const ACTION_LABEL = {reattempt: "Reattempt", reassign: "Reassign", notify: "Notify customer",
                        acknowledge: "Acknowledge", resolve: "Resolve"};
  function drawExceptions(items) {
    $("#exc-count").textContent = items.length;
    $("#exceptions").innerHTML = items.slice(0, 100).map((x) =>
      '<li data-id="' + esc(x.id) + '" data-order="' + esc(x.order_id || "") + '" data-source="' + esc(x.source) + '">' +
      '<span class="kind ' + esc(x.source) + '">' + esc(x.kind.replace(/_/g, " ")) + "</span> " +
      "<strong>" + esc(x.order_id || x.vehicle_id || x.route_id || x.id) + "</strong> " + esc(x.customer || "") +
      (x.status === "acknowledged" ? ' <span class="muted">(acknowledged)</span>' : "") +
      '<br><span class="muted">' + esc(x.reason || "") + "</span><br>" +
      x.actions.map((a) => '<button data-action="' + esc(a) + '" data-id="' + esc(x.id) + '">' + esc(ACTION_LABEL[a] || a) + "</button>").join("") +
      "</li>").join("") || '<li class="muted">Nothing needs attention.</li>';
  }

  const FLEET_LABEL = {captive: "Captive", "3pl": "3PL carriers", gig: "Gig"};
  function drawFleet(fleet) {
    const groups = {};
    for (const v of fleet) (groups[v.fleet_type] = groups[v.fleet_type] || []).push(v);
    $("#fleet-summary").innerHTML = Object.keys(FLEET_LABEL).map((t) => {
      const vs = groups[t] || [];
      const busy = vs.filter((v) => v.status !== "idle");
      const load = busy.length ? busy.reduce((a, v) => a + v.utilisation_pct, 0) / busy.length : 0;
      return '<div class="fleet-group" data-fleet="' + t + '"><div class="v">' + busy.length + "/" + vs.length +
        '</div><div class="k">' + FLEET_LABEL[t] + " on route · load " + load.toFixed(0) + " %</div></div>";
    }).join("");
    const order = Object.keys(FLEET_LABEL);
    const rows = fleet.slice().sort((a, b) => order.indexOf(a.fleet_type) - order.indexOf(b.fleet_type));
    $("#fleet tbody").innerHTML = rows.map((v) =>
      '<tr data-vehicle="' + esc(v.id) + '"><td><span class="swatch" style="background:' + esc(v.color) + '"></span>' + esc(v.name || v.id) +
      "</td><td>" + esc(FLEET_LABEL[v.fleet_type] || v.fleet_type) + (v.carrier_id ? " · " + esc(v.carrier_id) : "") +
      '</td><td><span class="status ' + esc(v.status) + '">' + esc(v.status.replace(/_/g, " ")) + "</span></td>" +
      '<td><span class="meter"><span style="width:' + Math.min(100, v.utilisation_pct) + '%"></span></span> ' + esc(v.utilisation_pct.toFixed(0)) + " %</td>" +
      "<td>" + (v.last_fix ? hhmm(v.last_fix) : "–") + "</td><td>" +
      (dash.live && v.route_id && (dash.out || []).includes(v.route_id) ? '<span class="muted">out</span>'
        : dash.live && v.route_id && v.status !== "idle" && v.status !== "completed"
          ? '<button class="out" data-out="' + esc(v.route_id) + '" title="Out for the day (breakdown, driver unavailable): ' +
            'its stops go to other vans">Out</button>' : "") + "</td></tr>").join("");
  }

  // --- live orchestration (the dashboard's `live`; POST /api/v1/live/start; a van out for the day) ---
  function drawLive(status) {
    dash.live = status.active;
    dash.out = status.closed_routes;
    const b = $("#live-orch");
    b.textContent = status.active ? "Orchestrating live" : "Orchestrate live";
    b.classList.toggle("on", status.active);
    b.disabled = status.active;
  }

  function drawOrders(orders) {
    const q = $("#order-search").value.trim().toLowerCase();
    const st = $("#order-status").value;
    const rows = orders.filter((o) => (!st || o.status === st) &&
      (!q || (o.id + " " + o.customer + " " + o.address).toLowerCase().includes(q)));
    $("#orders-count").textContent = rows.length + " of " + orders.length + (rows.length > 300 ? " (first 300 shown)" : "");
    $("#orders tbody").innerHTML = rows.slice(0, 300).map((o) => {
      const w = o.windows[0];
      return '<tr data-order="' + esc(o.id) + '"><td>' + esc(o.id) + "</td><td>" + esc(o.customer) + '</td><td><span class="status ' +
        esc(o.status) + '">' + esc(o.status) + "</span></td><td>" + esc(o.route_id || "") + "</td><td>" +
        (w ? hhmm(w[0]) + "–" + hhmm(w[1]) : "any") + "</td><td>" + esc(o.attempts) + "</td></tr>";
    }).join("");
  }

  function drawTimeline(state) {
    const sel = $("#route-select");
    const current = sel.value;
    sel.innerHTML = state.routes.map((r) => '<option value="' + esc(r.id) + '">' + esc(r.id) + " · " + esc(r.vehicle_id) +
      " (" + esc(r.status) + ")</option>").join("");
    if (current && state.routes.some((r) => r.id === current)) sel.value = current;
    const route = state.routes.find((r) => r.id === sel.value);
    const box = $("#timeline");
    if (!route) { box.innerHTML = '<p class="muted">No route yet.</p>'; return; }
    const times = [Date.parse(route.start), Date.parse(route.end)];
    for (const s of route.stops) {
      for (const w of route.windows[s.order_id] || []) times.push(Date.parse(w[0]), Date.parse(w[1]));
      if (s.actual_arrival) times.push(Date.parse(s.actual_arrival));
    }
    const t0 = Math.min(...times), t1 = Math.max(...times), span = Math.max(t1 - t0, 1);
    const x = (iso) => 130 + ((Date.parse(iso) - t0) / span) * (box.clientWidth - 140 || 400);
    box.innerHTML = route.stops.filter((s) => s.order_id).map((s) => {
      const ws = (route.windows[s.order_id] || []).map((w) =>
        '<div class="bar win" style="left:' + x(w[0]) + "px;width:" + Math.max(2, x(w[1]) - x(w[0])) + 'px"></div>').join("");
      let act = "";
      if (s.actual_arrival) {
        const a = Date.parse(s.actual_arrival);
        const inside = (route.windows[s.order_id] || []).some((w) => a >= Date.parse(w[0]) && a <= Date.parse(w[1]));
        const ok = inside || !(route.windows[s.order_id] || []).length;
        act = '<div class="bar act ' + (ok ? "ok" : "late") + '" style="left:' + x(s.actual_arrival) + 'px" title="actual ' + hhmm(s.actual_arrival) + '"></div>';
      }
      return '<div class="row" data-order="' + esc(s.order_id) + '"><span class="lbl" title="' + esc(s.order_id) + '">' +
        esc(s.sequence) + ". " + esc(s.order_id.slice(-10)) + "</span>" + ws +
        '<div class="bar plan" style="left:' + x(s.planned_arrival) + 'px" title="planned ' + hhmm(s.planned_arrival) + '"></div>' + act + "</div>";
    }).join("");
  }

  // --- state and live updates ---------------------------------------------------------------
  const dash = window.batonDashboard = {state: null, refreshes: 0, events: 0};
  async function refresh() {
    const state = await api.get("/api/v1/dashboard");
    drawLive(state.live);
    dash.state = state; dash.refreshes += 1;
    if (state.depots.length) zone = state.depots[0].timezone;
    drawKpis(state.kpis); drawMap(state); drawExceptions(state.exceptions); drawFleet(state.fleet);
    drawOrders(state.orders); drawTimeline(state);
    document.body.dataset.refreshes = String(dash.refreshes);
  }
  let pending = null;
  function scheduleRefresh() {
    if (pending) return;
    pending = setTimeout(() => { pending = null; refresh().catch(console.error); }, 400);
  }

  function connect() {
    const es = new EventSource("/api/v1/stream");
    const live = $("#live");
    es.addEventListener("ready", () => { live.textContent = "● live"; live.className = "live on"; });
    es.addEventListener("baton", (ev) => {
      const msg = JSON.parse(ev.data);
      dash.events += 1;
      if (msg.name === "vehicle.positions") { dash.fixes = (dash.fixes || 0) + 1; moveVehicles(msg.payload.vehicles); return; }
      const li = document.createElement("li");
      li.textContent = hhmm(msg.occurred_at) + " " + msg.name + " " + msg.aggregate_id +
        (msg.payload.to_status ? " → " + msg.payload.to_status : "");
      const feed = $("#feed");
      feed.prepend(li);
      while (feed.children.length > 50) feed.lastChild.remove();
      scheduleRefresh();
    });
    es.onerror = () => { live.textContent = "● reconnecting"; live.className = "live off"; };
  }

  $("#order-search").addEventListener("input", () => dash.state && drawOrders(dash.state.orders));
  $("#order-status").addEventListener("change", () => dash.state && drawOrders(dash.state.orders));
  $("#route-select").addEventListener("change", () => dash.state && drawTimeline(dash.state));
  $("#exceptions").addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (!b) return;
    let note = null;
    if (b.dataset.action === "resolve") {
      note = window.prompt("How was it resolved?", "handled by the dispatcher");
      if (!note) return;
    }
    b.disabled = true;
    try {
      const res = await api.post("/api/v1/exceptions/" + encodeURIComponent(b.dataset.id) + "/" + b.dataset.action,
                                 note ? {note: note} : {});
      const li = b.closest("li");
      li.dataset.result = res.status;
      li.classList.add("done");
      scheduleRefresh();
    } catch (e) { alert("Action failed: " + e.message); b.disabled = false; }
  });
  $("#live-orch").addEventListener("click", async () => {
    const b = $("#live-orch");
    b.disabled = true;
    try { await api.post("/api/v1/live/start"); await refresh(); }
    catch (e) { alert("Could not start live orchestration: " + e.message); b.disabled = false; }
  });
  $("#fleet").addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-out]");
    if (!b) return;
    const reason = window.prompt("Why is this van out for the day? (breakdown or driver_unavailable)", "breakdown");
    if (!reason) return;
    b.disabled = true;
    try {
      const res = await api.post("/api/v1/live/routes/" + encodeURIComponent(b.dataset.out) + "/breakdown",
                                 {reason: reason.trim()});
      b.closest("tr").dataset.result = res.moved.length + " moved, " + res.unassigned.length + " unassigned";
      scheduleRefresh();
    } catch (e) { alert("Not done: " + e.message); b.disabled = false; }
  });
  refresh().catch(console.error);
  connect();
})();
