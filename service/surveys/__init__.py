"""Surveys that ship with copline, as data translators can edit."""
