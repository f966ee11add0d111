"""The dashboard's pages, one file each: ``render()`` draws the page;
``mlcost.app.dashboard`` lists them in ``st.navigation``."""
