"""Entry point: `streamlit run streamlit_app.py`."""
from pathlib import Path

import streamlit as st

st.set_page_config(page_title="Genre classifier", page_icon=str(Path(__file__).parent / "static" / "icon.png"),
                   layout="wide")

# Plain titles, no icons: a screen reader would read a Material icon's name ("headphones") before each label.
pages = [
    st.Page("pages/classify.py", title="Classify a song", default=True),
    st.Page("pages/two_songs.py", title="Two songs side by side", url_path="two_songs"),
    st.Page("pages/batch.py", title="Many files at once", url_path="batch"),
    st.Page("pages/library.py", title="Your music library", url_path="library"),
    st.Page("pages/explore.py", title="Explore the dataset"),
    st.Page("pages/compare.py", title="Compare models"),
    st.Page("pages/about.py", title="About this app"),
]
st.navigation(pages).run()
