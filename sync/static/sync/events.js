// "Select every event on this page" on the events list. Without JavaScript the box stays hidden: rows can still
// be ticked one by one, and "all failed events matching these filters" needs no script.
document.addEventListener("DOMContentLoaded", () => {
  const selectPage = document.getElementById("select-page");
  if (!selectPage) return;
  const boxes = document.querySelectorAll('input[type="checkbox"][name="event"]');
  selectPage.hidden = false;
  selectPage.addEventListener("change", () => {
    boxes.forEach((box) => {
      box.checked = selectPage.checked;
    });
  });
});
