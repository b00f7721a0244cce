"""Entry point: `streamlit run streamlit_app.py`."""
import streamlit as st

st.set_page_config(page_title="Genre classifier", page_icon=":material/music_note:", layout="wide")

pages = [
    st.Page("pages/classify.py", title="Classify a song", icon=":material/headphones:", default=True),
    st.Page("pages/explore.py", title="Explore the dataset", icon=":material/travel_explore:"),
    st.Page("pages/compare.py", title="Compare models", icon=":material/leaderboard:"),
]
st.navigation(pages).run()
