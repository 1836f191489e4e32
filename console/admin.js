// Administration screens: what an admin would otherwise do with curl — departments with their
// business hours, holidays, out-of-hours reply and mandatory fields; operators; channels (with
// the WhatsApp settings); tags, interests and origins.

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const FIELDS = ["outcome", "interests", "rating", "origin"];

export function renderAdmin({ h, t, api, state, say, reload }) {
  const submit = (path, build) => async (e) => {
    e.preventDefault();
    try {
      await api.post(path, build(new FormData(e.target)));
      say(t("saved"), true);
      setTimeout(() => say(""), 1500);
      await reload();
    } catch (err) { say(err.message); }
  };
  const input = (name, attrs = {}) => h("label", {}, t(name), h("input", { name, ...attrs }));
  const table = (head, rows) => h("table", {}, h("thead", {}, h("tr", {}, head.map((x) => h("th", {}, x)))), h("tbody", {}, rows));
  const department = (id) => state.departments.find((d) => d.id === id)?.name || "";
  const hours = (d) => DAYS.filter((day) => d.business_hours[day]?.length)
    .map((day) => `${t(day)} ${d.business_hours[day].map((s) => s.join("–")).join(", ")}`).join(" · ") || t("closedAlways");

  const departments = h("section", {}, h("h2", {}, t("departments")),
    table([t("name"), t("timezone"), t("hours"), t("requiredFields")], state.departments.map((d) =>
      h("tr", {}, h("td", {}, d.name), h("td", {}, d.timezone), h("td", {}, hours(d)), h("td", {}, d.required_fields.map(t).join(", "))))),
    h("form", { "aria-label": t("departments"), onsubmit: submit("/departments", (f) => {
      const business_hours = {};
      for (const day of DAYS) {
        const from = f.get(`${day}-from`);
        const to = f.get(`${day}-to`);
        if (from && to) business_hours[day] = [[from, to === "00:00" ? "24:00" : to]];
      }
      const body = { name: f.get("name"), timezone: f.get("timezone") || "UTC", business_hours,
        holidays: String(f.get("holidays") || "").split(",").map((x) => x.trim()).filter(Boolean),
        required_fields: FIELDS.filter((x) => f.get(`required-${x}`)) };
      if (f.get("out_of_hours_message")) body.out_of_hours_message = f.get("out_of_hours_message");
      return body;
    }) },
    input("name", { required: true }),
    input("timezone", { placeholder: "America/Argentina/Buenos_Aires" }),
    h("fieldset", {}, h("legend", {}, t("hours")), DAYS.map((day) => h("div", {},
      h("span", {}, `${t(day)} `),
      h("input", { type: "time", name: `${day}-from`, "aria-label": `${t(day)} ${t("from")}`, value: day === "sat" || day === "sun" ? "" : "09:00" }),
      " – ",
      h("input", { type: "time", name: `${day}-to`, "aria-label": `${t(day)} ${t("to")}`, value: day === "sat" || day === "sun" ? "" : "18:00" })))),
    input("holidays", { placeholder: "2026-12-25, 2027-01-01" }),
    h("label", {}, t("outOfHoursMessage"), h("textarea", { name: "out_of_hours_message" })),
    h("fieldset", {}, h("legend", {}, t("requiredFields")), FIELDS.map((x) =>
      h("label", {}, h("input", { type: "checkbox", name: `required-${x}` }), ` ${t(x)}`))),
    h("button", { type: "submit" }, t("add"))));

  const operators = h("section", {}, h("h2", {}, t("operators")),
    table([t("name"), t("email"), t("role"), t("departments")], state.operators.map((o) =>
      h("tr", {}, h("td", {}, o.name), h("td", {}, o.email), h("td", {}, o.role), h("td", {}, o.department_ids.map(department).join(", "))))),
    h("form", { "aria-label": t("operators"), onsubmit: submit("/operators", (f) => ({
      name: f.get("name"), email: f.get("email"), password: f.get("password"), role: f.get("role"),
      department_ids: f.getAll("department_ids") })) },
    input("name", { required: true }), input("email", { type: "email", required: true }),
    input("password", { type: "password", required: true, minlength: 8 }),
    h("label", {}, t("role"), h("select", { name: "role" }, ["operator", "supervisor", "admin"].map((r) => h("option", { value: r }, r)))),
    h("label", {}, t("departments"), h("select", { name: "department_ids", multiple: true }, state.departments.map((d) => h("option", { value: d.id }, d.name)))),
    h("button", { type: "submit" }, t("add"))));

  const channels = h("section", {}, h("h2", {}, t("channels")),
    table([t("name"), t("kind"), t("department")], (state.channels || []).map((c) =>
      h("tr", {}, h("td", {}, c.name), h("td", {}, c.kind), h("td", {}, department(c.department_id))))),
    h("form", { "aria-label": t("channels"), onsubmit: submit("/channels", (f) => {
      const body = { name: f.get("name"), kind: f.get("kind"), department_id: f.get("department_id") };
      if (body.kind === "whatsapp") {
        body.whatsapp = { phone_number_id: f.get("phone_number_id"), access_token: f.get("access_token"),
          app_secret: f.get("app_secret"), verify_token: f.get("verify_token") };
        if (f.get("api_base_url")) body.whatsapp.api_base_url = f.get("api_base_url");
      }
      return body;
    }) },
    input("name", { required: true }),
    h("label", {}, t("kind"), h("select", { name: "kind" }, h("option", { value: "api" }, "API"), h("option", { value: "whatsapp" }, "WhatsApp"))),
    h("label", {}, t("department"), h("select", { name: "department_id" }, state.departments.map((d) => h("option", { value: d.id }, d.name)))),
    h("fieldset", {}, h("legend", {}, "WhatsApp Cloud API"),
      input("phone_number_id"), input("access_token", { type: "password" }), input("app_secret", { type: "password" }),
      input("verify_token", { type: "password" }), input("api_base_url", { placeholder: "https://graph.facebook.com" })),
    h("button", { type: "submit" }, t("add"))));

  const catalogue = (key, path) => h("section", {}, h("h2", {}, t(key)),
    h("ul", {}, state[key].map((x) => h("li", {}, x.name))),
    h("form", { "aria-label": t(key), onsubmit: submit(path, (f) => ({ name: f.get("name") })) },
      input("name", { required: true }), h("button", { type: "submit" }, t("add"))));

  return h("div", { class: "admin" }, departments, operators, channels,
    catalogue("tags", "/tags"), catalogue("interests", "/interests"), catalogue("origins", "/origins"));
}
