"""passwords"""
