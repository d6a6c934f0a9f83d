// Enter in a filter's number box applies it, as leaving the box does: Dash's range slider applies
// typed limits only on blur, so Enter blurs the box (the value is applied) and focus stays on it.
document.addEventListener("keydown", function (event) {
    const box = event.target;
    if (event.key !== "Enter" || !box.matches || !box.matches(".filter-block input.dash-range-slider-input")) {
        return;
    }
    event.preventDefault();
    box.blur();
    box.focus();
});
