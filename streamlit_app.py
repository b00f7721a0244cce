"""Entry point: `streamlit run streamlit_app.py`."""
import streamlit as st

st.set_page_config(page_title="Genre classifier", page_icon="🎵", layout="wide")

pages = [
    st.Page("pages/classify.py", title="Classify a song", icon="🎧", default=True),
    st.Page("pages/explore.py", title="Explore the dataset", icon="🔎"),
    st.Page("pages/compare.py", title="Compare models", icon="📊"),
]
st.navigation(pages).run()
