"""throttle"""
