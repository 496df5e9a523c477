// Coach directory: re-run the search when the sort order changes (the form still works without JS).
document.querySelectorAll("[data-autosubmit]").forEach((field) => {
  field.addEventListener("change", () => field.form.requestSubmit());
});
