"""Entry point: `streamlit run streamlit_app.py`."""
from pathlib import Path

import streamlit as st

st.set_page_config(page_title="Genre classifier", page_icon=str(Path(__file__).parent / "static" / "icon.png"),
                   layout="wide")

pages = [
    st.Page("pages/classify.py", title="Classify a song", icon=":material/headphones:", default=True),
    st.Page("pages/explore.py", title="Explore the dataset", icon=":material/travel_explore:"),
    st.Page("pages/compare.py", title="Compare models", icon=":material/leaderboard:"),
    st.Page("pages/about.py", title="About this app", icon=":material/info:"),
]
st.navigation(pages).run()
