document.getElementById("app").textContent = "kiln";
